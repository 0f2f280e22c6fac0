"""Adapter for MindSpore optimizers: ``mindspore.experimental.optim:RAdam`` and any subclass of
``mindspore.experimental.optim.Optimizer`` (MindSpore's torch-like optimizer API).

Groups are given as MindSpore users give them, ``cls([{"params": [...], "lr": lr, "betas":
(beta1, beta2), "eps": eps, "weight_decay": wd}, ...])``; a step is the optimizer called on
the tuple of every parameter's gradient (``optimizer(grads)``: there is no missing gradient
in MindSpore's API, so that property is skipped). State: the Parameters ``exp_avg.<name>``
and ``exp_avg_sq.<name>`` (m, v) and one int32 step count for the whole optimizer,
``step_t``, which every call advances (every group is stepped on every call: layout
``counter=group``); it is saved with ``mindspore.save_checkpoint`` and loaded with
``load_checkpoint``/``load_param_into_net``, as MindSpore users save a network. MindSpore runs
on the CPU here, in PyNative mode (its default; RAdam's arithmetic is compiled by ``@jit``).
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from radam_verify.adapters.base import (
    Adapter,
    Capabilities,
    GroupSpec,
    Instance,
    ParamState,
    StepGrads,
    flat,
    flush_probe,
    flushes_on_paths,
    implementation_call,
    refuse_drawn,
    required,
)
from radam_verify.errors import ImplementationError, UsageError
from radam_verify.floats import Format
from radam_verify.hyper import Hyper
from radam_verify.layout import Layout, identify_moments

if TYPE_CHECKING:
    from radam_verify.adapters.script import Driver
    from radam_verify.suite.scenario import Scenario

#: the constructor's hyperparameter arguments (drawn by the suite, never in --verify-kwargs)
DRAWN = ("lr", "betas", "eps", "weight_decay", "params")
#: the prefixes of the Parameters that hold m and v, and the step count's name
M_PREFIX, V_PREFIX, STEP = "exp_avg", "exp_avg_sq", "step_t"


def is_mindspore(obj: Any) -> bool:
    """A subclass of MindSpore's experimental ``Optimizer`` (found without importing it)."""
    return isinstance(obj, type) and any(
        str(base.__module__).startswith("mindspore.experimental.optim") and base.__name__ == "Optimizer"
        for base in obj.__mro__[1:])


def _ms() -> Any:
    """MindSpore, imported untyped and quiet (its C++ logging defaults to warnings), writing
    the graph it dumps when a compilation fails (``rank_0/om/analyze_fail.ir``, in the working
    directory by default) into a temporary folder."""
    os.environ.setdefault("GLOG_v", "3")  # errors only
    os.environ.setdefault("MS_OM_PATH", tempfile.mkdtemp(prefix="radam-verify-mindspore-"))
    return importlib.import_module("mindspore")


class MindSporeAdapter(Adapter):
    kind = "mindspore"

    def __init__(self, spec: str, cls: type, kwargs: Mapping[str, object], device: str,
                 fmt: Format, version: str) -> None:
        if device != "cpu":
            raise UsageError(f"--verify-device={device}: the MindSpore adapter verifies "
                             "MindSpore's CPU kernels; use --verify-device=cpu")
        self.spec, self.cls, self.kwargs, self.fmt, self.version = (
            spec, cls, dict(kwargs), fmt, version)
        self.device = device
        self.ms = _ms()
        self.ms.set_device("CPU")
        refuse_drawn(self.kwargs, DRAWN)
        self._probe()
        self.state_layout = Layout("raw", "group")
        self.capabilities = Capabilities(
            read_state=True, inject_state=True, maximize=False, weight_decay=True, groups=True,
            add_group=False, save_load=True, missing_grads=False, closure=False,
            live_state=False,
            notes={"maximize": f"{cls.__name__} takes no maximize",
                   "add_group": "MindSpore's experimental optimizers take their groups at "
                                "construction",
                   "missing_grads": "a MindSpore optimizer is called with a gradient for every "
                                    "parameter",
                   "closure": "a MindSpore optimizer is called with the gradients; it takes "
                              "no closure",
                   "live_state": "a MindSpore optimizer's state is its Parameters, saved with "
                                 "save_checkpoint; the suite loads it from a checkpoint only",
                   "views": "the MindSpore adapter gives every parameter a tensor of its own"})

    def _probe(self) -> None:
        """Construct and step once: rejects bad keywords early, checks m and v are raw."""
        hyper = Hyper(lr=1e-3)
        grad = [0.5, -0.25, 1.0]
        try:
            instance = self.open([GroupSpec(hyper, (np.linspace(-1.0, 1.0, 3),))])
            instance.step([[np.array(grad)]])
        except ImplementationError as error:
            raise UsageError(f"{self.spec} cannot be constructed and stepped with --verify-kwargs "
                             f"{self.kwargs}: {error}") from None
        held = instance.read()[0][0]
        m, v = held.m, held.v
        if m is None or v is None or identify_moments(m.tolist(), v.tolist(), grad, hyper.beta1,
                                                      hyper.beta2) != "raw":
            raise UsageError(f"{self.spec}: after a first step it holds no exp_avg and "
                             "exp_avg_sq with raw moments; the MindSpore adapter reads those")

    @property
    def hyperparameter_keys(self) -> list[str]:
        return ["lr", "betas", "eps", "weight_decay"]

    def entry(self, hyper: Hyper, params: list[Any]) -> dict[str, object]:
        """One parameter group as a MindSpore user writes it."""
        return {"params": params, "lr": hyper.lr, "betas": (hyper.beta1, hyper.beta2),
                "eps": hyper.eps, "weight_decay": hyper.weight_decay}

    @property
    def framework(self) -> str:
        return f"mindspore {self.ms.__version__}"

    def tensor(self, values: np.ndarray) -> Any:
        return self.ms.Tensor(np.asarray(values, dtype=self.fmt.numpy_type),
                              getattr(self.ms, self.fmt.name))

    def platform_flushes(self) -> str | None:
        """Probed eagerly and in a graph compiled by ``mindspore.jit``, where RAdam's
        arithmetic runs (MindSpore's compiled CPU kernels flush where its eager ones do not)."""
        ms = self.ms

        def eager(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return flat(ms.ops.mul(self.tensor(a), self.tensor(b)).asnumpy())

        def compiled(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return flat(ms.jit(_multiply, backend="ms_backend")(self.tensor(a),
                                                                self.tensor(b)).asnumpy())

        found = {path: flush_probe(multiply, self.fmt, "MindSpore on the CPU")
                 for path, multiply in (("eager", eager), ("mindspore.jit", compiled))}
        return flushes_on_paths(found)

    def script_driver(self, scenario: Scenario) -> Driver | None:
        from radam_verify.adapters.mindspore_script import driver

        return driver(self, scenario)

    def open(self, groups: Sequence[GroupSpec], path: str | None = None) -> MindSporeInstance:
        del path
        return MindSporeInstance(self, groups)


class MindSporeInstance(Instance):
    def __init__(self, adapter: MindSporeAdapter, groups: Sequence[GroupSpec]) -> None:
        ms = adapter.ms
        self.adapter, self.ms = adapter, ms
        self.shapes = [[np.shape(p) for p in g.params] for g in groups]
        self.params = [[ms.Parameter(adapter.tensor(p), name=f"g{k}p{i}")
                        for i, p in enumerate(g.params)] for k, g in enumerate(groups)]
        entries = [adapter.entry(g.hyper, ps) for g, ps in zip(groups, self.params, strict=True)]
        with implementation_call(f"{adapter.cls.__name__}(...)"):
            self.optimizer = adapter.cls(entries, **adapter.kwargs)
        self.last: list[list[Any]] = []

    def _held(self, prefix: str, param: Any) -> Any:
        """The optimizer's Parameter ``<prefix>.<param's name>``."""
        return next(p for name, p in self.optimizer.parameters_and_names()
                    if name == f"{prefix}.{param.name}")

    def step(self, grads: StepGrads) -> None:
        self.last = []
        for group, group_grads in zip(self.params, grads, strict=True):
            given = [grad for grad in group_grads if grad is not None]
            if len(given) != len(group):
                raise UsageError("a MindSpore optimizer takes a gradient for every parameter")
            self.last.append([self.adapter.tensor(np.reshape(grad, param.shape))
                              for param, grad in zip(group, given, strict=True)])
        with implementation_call("optimizer(gradients)"):
            self.optimizer(tuple(g for group in self.last for g in group))

    def read(self) -> list[list[ParamState]]:
        t = int(self.optimizer.step_t.asnumpy())
        return [[ParamState(flat(p.asnumpy()), flat(self._held(M_PREFIX, p).asnumpy()),
                            flat(self._held(V_PREFIX, p).asnumpy()), t) for p in group]
                for group in self.params]

    def inject(self, states: Sequence[Sequence[ParamState]]) -> None:
        a, ms = self.adapter, self.ms
        counts = {int(s.t or 0) for group in states for s in group}
        if len(counts) != 1:
            raise UsageError("a MindSpore optimizer has one step count for every group")
        self.optimizer.step_t.set_data(ms.Tensor(counts.pop(), ms.int32))
        for group, group_states in zip(self.params, states, strict=True):
            for param, state in zip(group, group_states, strict=True):
                param.set_data(a.tensor(np.reshape(state.theta, param.shape)))
                self._held(M_PREFIX, param).set_data(a.tensor(np.reshape(required(state.m),
                                                                         param.shape)))
                self._held(V_PREFIX, param).set_data(a.tensor(np.reshape(required(state.v),
                                                                         param.shape)))

    def save(self) -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "optimizer.ckpt"
            with implementation_call("mindspore.save_checkpoint"):
                self.ms.save_checkpoint(self.optimizer, str(path))
            return path.read_bytes()

    def load(self, saved: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "optimizer.ckpt"
            path.write_bytes(saved)
            with implementation_call("mindspore.load_checkpoint, load_param_into_net"):
                held = self.ms.load_checkpoint(str(path))
                self.ms.load_param_into_net(self.optimizer, held, strict_load=True)

    def grads(self) -> list[list[np.ndarray | None]]:
        return [[flat(g.asnumpy()) for g in group] for group in self.last]

    def hyperparameters(self) -> list[dict[str, object]]:
        return [{k: _plain(v) for k, v in group.items() if k != "params"}
                for group in self.optimizer.param_groups]


def _plain(value: object) -> object:
    """A hyperparameter as a comparable plain value (a MindSpore Parameter as its value)."""
    if hasattr(value, "asnumpy"):
        return np.asarray(value.asnumpy()).tolist()
    return value


def _multiply(a: Any, b: Any) -> Any:
    """a * b, compiled by ``mindspore.jit`` for the platform probe."""
    return a * b
