"""Adapter for PaddlePaddle optimizers: ``paddle.optimizer:RAdam`` and any subclass of
``paddle.optimizer.Optimizer`` with its constructor.

Paddle expresses groups as a list of dicts, ``parameters=[{"params": [...], "learning_rate":
..., "beta1": ..., "beta2": ..., "epsilon": ..., "weight_decay": ...}, ...]``, where a
group's ``learning_rate`` *scales* the optimizer's own. The adapter passes
``learning_rate=1.0`` to the constructor and each group's lr as its scale, so every group's
learning rate is exactly the drawn one; a group's ``weight_decay`` (a float) becomes
Paddle's ``L2Decay`` regularizer, added to the gradient (it is left out where it is 0).

State: per parameter, the accumulators ``moment1``, ``moment2`` (m, v), ``beta1_pow``,
``beta2_pow`` (b1^t, b2^t) and ``rho`` (t b2^t / (1 - b2^t)), each advanced by its own
recursion; there is no step count (layout ``powers``: t is read from the powers). The state
is read through ``state_dict()`` and set through ``set_state_dict()`` (before the first
step; afterwards by ``set_value`` on the tensors ``state_dict()`` returns). Paddle names
accumulators after their parameters with a process-wide name generator; each optimizer
here is built and stepped under a generator of its own (``paddle.utils.unique_name.guard``),
so two optimizers over the same groups give their tensors the same names, as the same
model does in two processes, and a saved state dict loads into the other.
"""

from __future__ import annotations

import io
import math
import pickle
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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

#: the paper's names -> the keys of a Paddle parameter group
NAMES = {"lr": "learning_rate", "beta1": "beta1", "beta2": "beta2", "eps": "epsilon",
         "weight_decay": "weight_decay"}
#: the constructor's hyperparameter arguments (drawn by the suite, never in --verify-kwargs)
DRAWN = ("learning_rate", "beta1", "beta2", "epsilon", "weight_decay", "parameters")
#: Paddle's accumulators: what each holds
M, V, POW1, POW2, RHO = "moment1", "moment2", "beta1_pow", "beta2_pow", "rho"
ACCUMULATORS = (POW1, POW2, RHO, M, V)


def is_paddle(obj: Any) -> bool:
    """A ``paddle.optimizer.Optimizer`` subclass (``paddle.optimizer:RAdam``)."""
    if not isinstance(obj, type) or "paddle" not in sys.modules:
        return False
    import paddle

    return issubclass(obj, paddle.optimizer.Optimizer)


def steps_from_powers(pow1: float, pow2: float, rho: float, beta1: float) -> int | None:
    """t from what a tensor holds: b1^t, b2^t and rho = t b2^t / (1 - b2^t) (None: b2^t
    and b1^t have underflowed, or neither tells).

    Where b2^t is a normal number below 1, t = rho (1 - b2^t) / b2^t: rho and b2^t carry
    the rounding of t recursion steps each (a relative error of about t u), and 1 - b2^t one
    of u / (1 - b2^t), so the estimate is within a few hundredths of t unless beta2 is within
    about 10^3 u of 1. Otherwise t = log(b1^t) / log(b1), with b1 rounded to float32 as
    Paddle's kernel rounds it.
    """
    if 0.0 < pow2 < 1.0 and pow2 >= sys.float_info.min * 2**90 and math.isfinite(rho):
        return round(rho * (1.0 - pow2) / pow2)
    if pow1 == 1.0 and pow2 == 1.0:
        return 0
    b1 = float(np.float32(beta1))
    if 0.0 < b1 < 1.0 and 0.0 < pow1 <= 1.0 and pow1 >= sys.float_info.min * 2**90:
        return round(math.log(pow1) / math.log(b1))
    return None


class PaddleAdapter(Adapter):
    kind = "paddle"

    def __init__(self, spec: str, cls: type, kwargs: Mapping[str, object], device: str,
                 fmt: Format, version: str) -> None:
        import paddle

        self.spec, self.cls, self.kwargs, self.fmt, self.version = (
            spec, cls, dict(kwargs), fmt, version)
        if device != "cpu":
            raise UsageError(f"--verify-device={device}: the Paddle adapter verifies Paddle's "
                             "CPU kernels; use --verify-device=cpu")
        self.device = device
        paddle.set_device("cpu")
        refuse_drawn(self.kwargs, DRAWN)
        self._probe()
        self.state_layout = Layout("raw", "powers")
        self.capabilities = Capabilities(
            read_state=True, inject_state=True, maximize=False, weight_decay=True, groups=True,
            add_group=False, save_load=True, missing_grads=True, closure=False, live_state=True,
            retune=True,
            notes={"maximize": f"{cls.__name__} takes no maximize",
                   "add_group": "a Paddle optimizer has no public add_param_group",
                   "closure": "paddle.optimizer.Optimizer.step() takes no closure",
                   "views": "the Paddle adapter gives every parameter a tensor of its own"})

    # -- construction -----------------------------------------------------------------------
    def tensor(self, values: np.ndarray) -> Any:
        import paddle

        return paddle.to_tensor(np.asarray(values, dtype=self.fmt.numpy_type).reshape(-1),
                                dtype=self.fmt.name)

    def parameter(self, values: np.ndarray) -> Any:
        import paddle

        data = np.asarray(values, dtype=self.fmt.numpy_type).reshape(-1)
        return paddle.create_parameter(
            list(data.shape), dtype=self.fmt.name,
            default_initializer=paddle.nn.initializer.Assign(data))

    def entry(self, hyper: Hyper, params: list[Any]) -> dict[str, object]:
        """One parameter group as a Paddle user writes it."""
        found: dict[str, object] = {"params": params, "learning_rate": hyper.lr,
                                    "beta1": hyper.beta1, "beta2": hyper.beta2,
                                    "epsilon": hyper.eps}
        if hyper.weight_decay:
            found["weight_decay"] = hyper.weight_decay
        return found

    def construct(self, groups: Sequence[GroupSpec], names: Any) -> tuple[Any, list[list[Any]]]:
        from paddle.utils import unique_name

        with unique_name.guard(names):
            params = [[self.parameter(p) for p in g.params] for g in groups]
            entries = [self.entry(g.hyper, ps) for g, ps in zip(groups, params, strict=True)]
            with implementation_call(f"{self.cls.__name__}(...)"):
                optimizer = self.cls(learning_rate=1.0, parameters=entries, **self.kwargs)
        return optimizer, params

    def _probe(self) -> None:
        """Construct and step once: rejects bad keywords early, checks the accumulators."""
        hyper = Hyper(lr=1e-3)
        instance = self.open([GroupSpec(hyper, (np.linspace(-1.0, 1.0, 3),))])
        try:
            instance.step([[np.full(3, 0.5)]])
        except ImplementationError as error:
            raise UsageError(f"{self.spec} cannot be constructed and stepped with --verify-kwargs "
                             f"{self.kwargs}: {error}") from None
        held = instance.accumulators(0, 0)
        missing = [name for name in ACCUMULATORS if name not in held]
        if missing:
            raise UsageError(f"{self.spec}: its state after a step has no accumulator "
                             f"{', '.join(missing)}; the Paddle adapter reads RAdam's moment1, "
                             "moment2, beta1_pow, beta2_pow and rho")
        if identify_moments(flat(held[M].numpy()).tolist(), flat(held[V].numpy()).tolist(),
                            [0.5] * 3, hyper.beta1, hyper.beta2) != "raw":
            raise UsageError(f"{self.spec}: moment1/moment2 after a first step hold neither m "
                             "nor v; the Paddle adapter reads raw moments only")

    @property
    def hyperparameter_keys(self) -> list[str]:
        return list(NAMES.values())

    @property
    def framework(self) -> str:
        import paddle

        return f"paddlepaddle {paddle.__version__}"

    def platform_flushes(self) -> str | None:
        def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return flat((self.tensor(a) * self.tensor(b)).numpy())

        return flush_probe(multiply, self.fmt, "Paddle on the CPU")

    def script_driver(self, scenario: Scenario) -> Driver | None:
        from radam_verify.adapters.paddle_script import driver

        return driver(self, scenario)

    def open(self, groups: Sequence[GroupSpec], path: str | None = None) -> PaddleInstance:
        from paddle.base.unique_name import UniqueNameGenerator

        names = UniqueNameGenerator()
        optimizer, params = self.construct(groups, names)
        return PaddleInstance(self, optimizer, params, [g.hyper for g in groups], names)


class PaddleInstance(Instance):
    def __init__(self, adapter: PaddleAdapter, optimizer: Any, params: list[list[Any]],
                 hypers: list[Hyper], names: Any) -> None:
        self.adapter, self.optimizer, self.params, self.hypers = adapter, optimizer, params, hypers
        self.names = names
        #: steps each tensor took with a gradient (since construction or injection): t where
        #: both powers have underflowed
        self.counts: list[list[int | None]] = [[0] * len(group) for group in params]
        #: a state set before the first step, which Paddle holds until it creates its
        #: accumulators on that step
        self.pending: dict[str, Any] = {}

    @contextmanager
    def call(self, name: str) -> Iterator[None]:
        """An implementation call under this optimizer's own name generator."""
        from paddle.utils import unique_name

        with unique_name.guard(self.names), implementation_call(name):
            yield

    def accumulators(self, g: int, p: int) -> dict[str, Any]:
        """The tensors Paddle holds for one parameter, by accumulator (empty before its
        first step)."""
        with self.call("state_dict()"):
            state = self.optimizer.state_dict()
        held = {k: v for k, v in state.items() if k not in ("LR_Scheduler", "master_weights")}
        held = held or self.pending
        prefix = self.params[g][p].name + "_"
        found = {}
        for name in ACCUMULATORS:
            key = next((k for k in held if k.startswith(prefix + name + "_")), None)
            if key is not None:
                found[name] = held[key]
        return found

    def step(self, grads: StepGrads) -> None:
        for g, (group, group_grads) in enumerate(zip(self.params, grads, strict=True)):
            for p, (param, grad) in enumerate(zip(group, group_grads, strict=True)):
                if grad is None:
                    param.clear_gradient(False)
                else:
                    param.grad = self.adapter.tensor(grad)
                    count = self.counts[g][p]
                    self.counts[g][p] = None if count is None else count + 1
        with self.call("step()"):
            self.optimizer.step()
        self.pending = {}

    def read(self) -> list[list[ParamState]]:
        out = []
        for g, group in enumerate(self.params):
            row = []
            for p, param in enumerate(group):
                held = self.accumulators(g, p)
                theta = flat(param.numpy())
                if not held:
                    row.append(ParamState(theta, None, None, 0))
                    continue
                t = steps_from(held, self.hypers[g])
                row.append(ParamState(theta, flat(held[M].numpy()), flat(held[V].numpy()),
                                      self.counts[g][p] if t is None else t))
            out.append(row)
        return out

    def inject(self, states: Sequence[Sequence[ParamState]]) -> None:
        """Set theta and the accumulators of the exact state at t: m, v, b1^t, b2^t and
        t b2^t / (1 - b2^t), each rounded once to the parameters' dtype; the powers are those
        of the betas as the kernel holds them (float attributes: rounded to binary32), as
        its own t steps would have left them."""
        import mpmath

        a = self.adapter
        started = bool(self.accumulators(0, 0)) if self.params and self.params[0] else False
        wanted: dict[str, Any] = {}
        for g, (group, group_states) in enumerate(zip(self.params, states, strict=True)):
            hyper = self.hypers[g]
            for p, (param, state) in enumerate(zip(group, group_states, strict=True)):
                t = int(state.t or 0)
                size = int(np.asarray(state.theta).size)
                with mpmath.workprec(200):
                    b1, b2 = (mpmath.mpf(float(np.float32(b)))
                              for b in (hyper.beta1, hyper.beta2))
                    pow1, pow2 = b1**t, b2**t
                    # a beta2 that rounds to 1 leaves 1 - b2^t = 0: the kernel's own
                    # recursion holds rho = inf there (the reading's domain ends before)
                    rho = (mpmath.mpf(1) if not t else mpmath.inf if pow2 == 1
                           else t * pow2 / (1 - pow2))
                values = {M: required(state.m), V: required(state.v),
                          POW1: np.full(size, float(pow1)), POW2: np.full(size, float(pow2)),
                          RHO: np.full(size, float(rho))}
                param.set_value(a.to_format(np.asarray(state.theta).reshape(-1)))
                self.counts[g][p] = t
                if started:
                    held = self.accumulators(g, p)
                    for name, value in values.items():
                        held[name].set_value(a.to_format(np.asarray(value).reshape(-1)))
                else:
                    for name, value in values.items():
                        wanted[f"{param.name}_{name}_0"] = a.tensor(value)
        if not started:
            with self.call("set_state_dict()"):
                self.optimizer.set_state_dict(wanted)
            self.pending = wanted

    def save(self) -> bytes:
        import paddle

        buffer = io.BytesIO()
        with self.call("state_dict()"):
            paddle.save(self.optimizer.state_dict(), buffer)
        # the steps counted beside it, for tensors whose powers no longer tell t (read())
        return pickle.dumps((buffer.getvalue(), self.counts))

    def load(self, saved: bytes) -> None:
        import paddle

        held, counts = pickle.loads(saved)  # written by save() above
        state = paddle.load(io.BytesIO(held))
        with self.call("set_state_dict()"):
            self.optimizer.set_state_dict(state)
        self._recount(state, counts)

    def _recount(self, state: Mapping[str, Any], counts: list[list[int | None]]) -> None:
        """After loading ``state``: each tensor's t from its powers, else the steps the
        saving instance counted (``counts``); Paddle's own state does not hold t there, and
        nothing of its step depends on it."""
        self.pending = dict(state) if not self.accumulators(0, 0) else {}
        for g, group in enumerate(self.params):
            for p in range(len(group)):
                held = self.accumulators(g, p)
                if held:
                    t = steps_from(held, self.hypers[g])
                    self.counts[g][p] = counts[g][p] if t is None else t

    def load_live(self, source: Instance) -> Callable[[], None]:
        assert isinstance(source, PaddleInstance)
        with source.call("state_dict()"):
            state = source.optimizer.state_dict()
        with self.call("set_state_dict()"):
            self.optimizer.set_state_dict(state)
        self._recount(state, [list(row) for row in source.counts])
        return lambda: _disturb(state)

    def change_hyperparameters(self) -> None:
        for group in self.optimizer._param_groups:
            for key in ("beta1", "beta2", "epsilon"):
                if isinstance(group.get(key), float):
                    group[key] *= 0.5

    def retune(self, hypers: Sequence[Hyper]) -> None:
        """Set each group's hyperparameters where Paddle reads them at the next step, as its
        ``_add_param_group`` sets them: beta1, beta2 and epsilon in the group (read by
        ``_update_param_group`` on every step), lr as each parameter's learning-rate scale
        (``optimize_attr``, the optimizer's own being 1) and the weight decay as each
        parameter's ``L2Decay`` regularizer (none where it is 0)."""
        from paddle.regularizer import L2Decay

        for g, hyper in enumerate(hypers):
            group = self.optimizer._param_groups[g]
            group.update(beta1=hyper.beta1, beta2=hyper.beta2, epsilon=hyper.eps,
                         learning_rate=hyper.lr, weight_decay=hyper.weight_decay or None)
            for param in group["params"]:
                param.optimize_attr["learning_rate"] = hyper.lr
                param.regularizer = L2Decay(hyper.weight_decay) if hyper.weight_decay else None
            self.hypers[g] = hyper

    def grads(self) -> list[list[np.ndarray | None]]:
        return [[None if t.grad is None else flat(t.grad.numpy()) for t in group]
                for group in self.params]

    def hyperparameters(self) -> list[dict[str, object]]:
        return [{k: _plain(v) for k, v in group.items() if k != "params"}
                for group in self.optimizer._param_groups]


def steps_from(held: Mapping[str, Any], hyper: Hyper) -> int | None:
    """:func:`steps_from_powers` of one parameter's accumulators (their first elements)."""
    first = {name: float(flat(held[name].numpy())[0]) for name in (POW1, POW2, RHO)}
    return steps_from_powers(first[POW1], first[POW2], first[RHO], hyper.beta1)


def _disturb(state: Mapping[str, Any]) -> None:
    """Add 1 to every floating tensor of a state dict, in place."""
    for value in state.values():
        if hasattr(value, "set_value") and hasattr(value, "numpy"):
            held = np.asarray(value.numpy())
            if np.issubdtype(held.dtype, np.floating):
                value.set_value(held + 1)


def _plain(value: object) -> object:
    """A hyperparameter as a comparable plain value (an ``L2Decay`` as its coefficient)."""
    coeff = getattr(value, "_coeff", None)
    if coeff is not None:
        return float(coeff)
    return value.item() if hasattr(value, "item") else value
