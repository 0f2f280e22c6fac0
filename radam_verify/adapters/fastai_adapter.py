"""Adapter for fastai optimizers: ``fastai.optimizer:RAdam`` and any factory that returns a
fastai ``Optimizer`` (an optimizer built from step callbacks, not a ``torch.optim.Optimizer``).

The factory is called as a fastai user calls it, ``factory(param_lists, lr=, mom=,
sqr_mom=, eps=, wd=, **kwargs)`` with one list of tensors per group, and each group's own
hyperparameters are then set with ``Optimizer.set_hyper(name, [one value per group])``, the
call fastai's schedulers use. The state is ``optimizer.state[p]`` (``grad_avg``,
``sqr_avg``, ``step``), found by probing after one step like the torch adapter's;
``state_dict()``/``load_state_dict()`` save and load it. Hyperparameters set between steps
go through ``set_hyper`` as well (``Instance.retune``). fastai optimizers have no
``maximize`` and no ``add_param_group``.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from radam_verify.adapters.base import (
    Adapter,
    Capabilities,
    ClosureCall,
    GroupSpec,
    Instance,
    ParamState,
    StepGrads,
    implementation_call,
    refuse_drawn,
)
from radam_verify.adapters.torch_adapter import (
    check_device,
    closure_refused,
    closure_step,
    disturb,
    load_live,
    snapshot,
    torch_flushes,
)
from radam_verify.errors import ImplementationError, UsageError
from radam_verify.floats import Format
from radam_verify.hyper import Hyper
from radam_verify.layout import Layout, identify_moments

if TYPE_CHECKING:
    from radam_verify.adapters.script import Driver
    from radam_verify.suite.scenario import Scenario

#: the paper's names -> fastai's hyperparameter names
NAMES = {"lr": "lr", "beta1": "mom", "beta2": "sqr_mom", "eps": "eps", "weight_decay": "wd"}
M_NAMES = ("grad_avg", "exp_avg", "m")
V_NAMES = ("sqr_avg", "exp_avg_sq", "v")
STEP_NAMES = ("step",)


def is_fastai(obj: Any) -> bool:
    """A factory defined in fastai (``fastai.optimizer:RAdam``), or one annotated to return
    a fastai ``Optimizer`` (``def my_radam(params, lr, ...) -> Optimizer``)."""
    if not callable(obj):
        return False
    if str(getattr(obj, "__module__", None) or "").split(".")[0] == "fastai":
        return True
    try:
        returned = inspect.signature(obj, eval_str=True).return_annotation
    except (TypeError, ValueError, NameError):
        return False
    return str(getattr(returned, "__module__", None) or "").split(".")[0] == "fastai"


class FastaiAdapter(Adapter):
    kind = "fastai"

    def __init__(self, spec: str, factory: Callable[..., Any], kwargs: Mapping[str, object],
                 device: str, fmt: Format, version: str) -> None:
        import torch

        self.spec, self.factory, self.kwargs, self.fmt, self.version = (
            spec, factory, dict(kwargs), fmt, version)
        self.device = check_device(device)
        self.torch_dtype = {"float32": torch.float32, "float64": torch.float64}[fmt.name]
        try:
            accepted = set(inspect.signature(factory).parameters)
        except (TypeError, ValueError):
            accepted = set(NAMES.values())
        refuse_drawn(self.kwargs, list(NAMES.values()))
        self.keys = [NAMES[k] for k in NAMES if k != "weight_decay" or "wd" in accepted]
        self.m_key, self.v_key, self.step_key, others = self._probe()
        notes = {"views": "the fastai adapter places every parameter as a tensor of its own",
                 "maximize": "fastai optimizers take no maximize",
                 "add_group": "a fastai Optimizer has no add_param_group"}
        readable = self.m_key is not None and self.v_key is not None
        if not readable:
            notes["read_state"] = "no first and second moment found in optimizer.state"
        elif others or self.step_key is None:
            notes["inject_state"] = (f"state entries {', '.join(others)} are not understood"
                                     if others else "no step counter found in the state")
        self.state_layout = Layout("raw", "tensor")
        self.capabilities = Capabilities(
            read_state=readable, inject_state=readable and not others and self.step_key is not None,
            maximize=False, weight_decay="wd" in self.keys, groups=True, add_group=False,
            save_load=True, missing_grads=True, closure=self.closure_note is None, live_state=True,
            retune=True,
            notes={**notes, **({"closure": self.closure_note} if self.closure_note else {})})

    # -- construction -----------------------------------------------------------------------
    def tensor(self, values: np.ndarray, leaf: bool = True) -> Any:
        import torch

        data = torch.tensor(np.asarray(values, dtype=self.fmt.numpy_type), dtype=self.torch_dtype,
                            device=self.device)
        return torch.nn.Parameter(data) if leaf else data

    def construct(self, groups: Sequence[GroupSpec]) -> tuple[Any, list[list[Any]]]:
        tensors = [[self.tensor(p) for p in g.params] for g in groups]
        first = groups[0].hyper
        scalars = {NAMES[k]: getattr(first, k) for k in NAMES if NAMES[k] in self.keys}
        with implementation_call(f"{getattr(self.factory, '__name__', 'factory')}(...)"):
            optimizer = self.factory(tensors, **scalars, **self.kwargs)
        per_group = {NAMES[k]: [getattr(g.hyper, k) for g in groups]
                     for k in NAMES if NAMES[k] in self.keys}
        with implementation_call("set_hyper()"):
            for name, values in per_group.items():
                optimizer.set_hyper(name, values)
        return optimizer, tensors

    def _probe(self) -> tuple[str | None, str | None, str | None, tuple[str, ...]]:
        """Construct and step once: rejects bad keywords early, finds the state's keys."""
        hyper = Hyper(lr=1e-3)
        try:
            optimizer, tensors = self.construct([GroupSpec(hyper, (np.linspace(-1.0, 1.0, 3),))])
            tensors[0][0].grad = self.tensor(np.full(3, 0.5)).detach()
            with implementation_call("step()"):
                optimizer.step()
        except ImplementationError as error:
            raise UsageError(f"{self.spec} cannot be constructed and stepped with --verify-kwargs "
                             f"{self.kwargs}: {error}") from None
        state = optimizer.state[tensors[0][0]]
        m_key = next((k for k in M_NAMES if k in state), None)
        v_key = next((k for k in V_NAMES if k in state), None)
        step_key = next((k for k in STEP_NAMES if k in state), None)
        others = tuple(sorted(k for k in state if k not in {m_key, v_key, step_key}))
        if m_key is not None and v_key is not None:
            found = identify_moments(snapshot(state[m_key]).tolist(),
                                     snapshot(state[v_key]).tolist(), [0.5] * 3,
                                     hyper.beta1, hyper.beta2)
            if found != "raw":
                raise UsageError(f"{self.spec}: {m_key}/{v_key} after a first step hold neither "
                                 "m, v nor the bias-corrected moments; the fastai adapter reads "
                                 "raw moments only")
        # (a second step: after the state was read)
        self.closure_note = closure_refused(optimizer, lambda o, c: o.step(c))
        return m_key, v_key, step_key, others

    @property
    def hyperparameter_keys(self) -> list[str]:
        return list(self.keys)

    @property
    def framework(self) -> str:
        import torch

        return f"torch {torch.__version__}"

    def platform_flushes(self) -> str | None:
        return torch_flushes(self.device, self.torch_dtype, self.fmt)

    def script_driver(self, scenario: Scenario) -> Driver | None:
        from radam_verify.adapters.fastai_script import driver

        return driver(self, scenario)

    def open(self, groups: Sequence[GroupSpec], path: str | None = None) -> Instance:
        optimizer, tensors = self.construct(groups)
        return FastaiInstance(self, optimizer, tensors)


class FastaiInstance(Instance):
    def __init__(self, adapter: FastaiAdapter, optimizer: Any, tensors: list[list[Any]]) -> None:
        self.adapter, self.optimizer, self.tensors = adapter, optimizer, tensors

    def step_closure(self, grads: StepGrads) -> ClosureCall:
        return closure_step(self.optimizer, self.tensors, grads, self.adapter.tensor)

    def step(self, grads: StepGrads) -> None:
        for group_tensors, group_grads in zip(self.tensors, grads, strict=True):
            for tensor, grad in zip(group_tensors, group_grads, strict=True):
                tensor.grad = None if grad is None else self.adapter.tensor(grad).detach()
        with implementation_call("step()"):
            self.optimizer.step()

    def read(self) -> list[list[ParamState]]:
        a = self.adapter
        out = []
        for group_tensors in self.tensors:
            row = []
            for tensor in group_tensors:
                state = self.optimizer.state.get(tensor, {})
                m = v = None
                if a.m_key is not None and a.v_key is not None and a.m_key in state:
                    m, v = snapshot(state[a.m_key]), snapshot(state[a.v_key])
                t = int(state[a.step_key]) if a.step_key is not None and a.step_key in state else 0
                row.append(ParamState(snapshot(tensor), m, v, t))
            out.append(row)
        return out

    def inject(self, states: Sequence[Sequence[ParamState]]) -> None:
        import torch

        a = self.adapter
        assert a.m_key is not None
        assert a.v_key is not None
        assert a.step_key is not None
        for group_tensors, group_states in zip(self.tensors, states, strict=True):
            for tensor, wanted in zip(group_tensors, group_states, strict=True):
                assert wanted.m is not None
                assert wanted.v is not None
                with torch.no_grad():
                    tensor.copy_(a.tensor(wanted.theta, leaf=False))
                self.optimizer.state[tensor] = {
                    a.m_key: a.tensor(wanted.m, leaf=False), a.v_key: a.tensor(wanted.v, leaf=False),
                    a.step_key: int(wanted.t or 0)}

    def save(self) -> bytes:
        import torch

        buffer = io.BytesIO()
        with implementation_call("state_dict()"):
            torch.save(self.optimizer.state_dict(), buffer)
        return buffer.getvalue()

    def load(self, saved: bytes) -> None:
        import torch

        with implementation_call("load_state_dict()"):
            self.optimizer.load_state_dict(torch.load(io.BytesIO(saved), weights_only=False))

    def load_live(self, source: Instance) -> Callable[[], None]:
        assert isinstance(source, FastaiInstance)
        return load_live(self.optimizer, source.optimizer, self.adapter.hyperparameter_keys)

    def change_hyperparameters(self) -> None:
        disturb(self.optimizer.hypers, self.adapter.hyperparameter_keys)

    def retune(self, hypers: Sequence[Hyper]) -> None:
        """``Optimizer.set_hyper(name, [one value per group])``, as fastai's schedulers
        (``fit_one_cycle``'s lr and mom, every batch) set them; the groups after the first
        ``len(hypers)`` keep theirs."""
        with implementation_call("set_hyper()"):
            for key, name in NAMES.items():
                if name in self.adapter.keys:
                    held = [h[name] for h in self.optimizer.hypers]
                    given = [getattr(h, key) for h in hypers]
                    self.optimizer.set_hyper(name, given + held[len(given):])

    def grads(self) -> list[list[np.ndarray | None]]:
        return [[None if t.grad is None else snapshot(t.grad) for t in group]
                for group in self.tensors]

    def hyperparameters(self) -> list[dict[str, object]]:
        return [{k: _plain(v) for k, v in dict(h).items()} for h in self.optimizer.hypers]


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value
