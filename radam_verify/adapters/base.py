"""What the conformance suite needs from an implementation, whatever its framework.

An :class:`Adapter` binds one implementation (class or factory, constructor keywords,
device, dtype) and opens :class:`Instance` objects: one optimizer over parameter groups.
The suite speaks only this interface, in the paper's names; third-party argument names
(``betas``, ``exp_avg_sq``, ``learning_rate``) stay inside the adapters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from radam_verify import watchdog
from radam_verify.errors import ImplementationError, UsageError
from radam_verify.floats import Format
from radam_verify.hyper import Hyper
from radam_verify.layout import RAW, Layout
from radam_verify.views import Placement

if TYPE_CHECKING:
    from radam_verify.adapters.script import Driver
    from radam_verify.suite.scenario import Scenario

FloatArray = np.ndarray
#: gradients of one step: ``grads[group][param]``; ``None`` leaves that tensor without a gradient
StepGrads = Sequence[Sequence[FloatArray | None]]


@dataclass(frozen=True)
class GroupSpec:
    """A parameter group: its hyperparameters and its initial parameter tensors."""

    hyper: Hyper
    params: tuple[FloatArray, ...]
    #: where each parameter and its gradients lie in memory (:mod:`radam_verify.views`);
    #: None: contiguous tensors of their own. Only with ``Capabilities.views``.
    placements: tuple[Placement, ...] | None = None
    #: each parameter's dtype where it differs from the implementation's (a bfloat16 tensor
    #: beside float32 ones); None: every parameter in the implementation's dtype. Only with
    #: ``Capabilities.mixed_dtypes``; each tensor is judged in its own format.
    dtypes: tuple[str, ...] | None = None

    def format_name(self, p: int, default: str) -> str:
        """The dtype parameter ``p`` is held in (``default``: the implementation's)."""
        return default if self.dtypes is None else self.dtypes[p]


@dataclass(frozen=True)
class ParamState:
    """What can be read of one tensor: theta always, m, v and t where the state is readable."""

    theta: FloatArray
    m: FloatArray | None = None
    v: FloatArray | None = None
    t: int | None = None
    #: the whole storage the parameter is a view into (placed parameters only): its
    #: elements outside the view must keep their canaries
    storage: FloatArray | None = None
    #: AMSGrad's running maximum of the second moment, where the implementation keeps one
    #: and it can be read; to inject, None sets it to v (a state whose v is at its largest)
    v_max: FloatArray | None = None
    #: Lookahead's slow weights, where the implementation keeps them and they can be read;
    #: to inject, None sets them to theta (a state just after a sync)
    slow: FloatArray | None = None


@dataclass(frozen=True)
class Capabilities:
    """What an implementation supports; a property that needs a missing one is skipped."""

    read_state: bool = False  # m and v can be read after a step
    inject_state: bool = False  # (theta, m, v, t) can be set before a step
    #: AMSGrad's running maximum v_max is read and injected with m and v
    max_state: bool = False
    #: Lookahead's slow weights are read and injected with m and v
    slow_state: bool = False
    maximize: bool = False
    #: maximize is one constructor argument for the whole optimizer, not a per-group option
    maximize_per_group: bool = True
    #: the constructor keywords fix maximize (to this value) for every group
    maximize_fixed: bool | None = None
    weight_decay: bool = True
    groups: bool = True  # several groups with their own hyperparameters in one optimizer
    add_group: bool = False
    save_load: bool = False
    missing_grads: bool = True  # a tensor may have no gradient on a step (it is then not stepped)
    closure: bool = False  # step(closure) computes the gradients through the closure
    #: another optimizer's state dict object can be loaded in process (load_state_dict)
    live_state: bool = False
    #: a group's hyperparameters can be set in the live optimizer between steps, as a
    #: training loop's schedule sets them (``Instance.retune``)
    retune: bool = False
    #: parameters can be strided views into a larger storage, gradients strided otherwise
    #: (``GroupSpec.placements``)
    views: bool = False
    #: a group may hold parameters of several real dtypes (``GroupSpec.dtypes``)
    mixed_dtypes: bool = False
    #: the constant the constructor keywords add inside the root (optax's ``eps_root``):
    #: every reading the implementation can have carries it (``Convention.eps_root``)
    eps_root: float = 0.0
    #: alternative code paths: name -> constructor keywords selecting it
    code_paths: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)  # capability -> why it is missing


@dataclass(frozen=True)
class ClosureCall:
    """What one ``step(closure)`` did with its closure."""

    calls: int  # how many times it called the closure
    grad_enabled: tuple[bool, ...]  # whether gradients were enabled in each call
    returned: str  # what step() returned, in words
    returned_loss: bool  # whether that is the closure's loss


class Instance(ABC):
    """One optimizer over parameter groups, driven step by step with given gradients."""

    @abstractmethod
    def step(self, grads: StepGrads) -> None:
        """Set the gradients (None: no gradient) and take one optimizer step."""

    @abstractmethod
    def read(self) -> list[list[ParamState]]:
        """The current state of every tensor, ``[group][param]``, as float64-exact arrays."""

    def step_closure(self, grads: StepGrads) -> ClosureCall:
        """Take one step through ``step(closure)``, the closure setting the gradients and
        returning a loss; only with ``Capabilities.closure``."""
        raise NotImplementedError

    def inject(self, states: Sequence[Sequence[ParamState]]) -> None:
        """Set (theta, m, v, t) of every tensor; only with ``Capabilities.inject_state``."""
        raise NotImplementedError

    def add_group(self, group: GroupSpec) -> None:
        """Add a parameter group after construction; only with ``Capabilities.add_group``."""
        raise NotImplementedError

    def save(self) -> bytes:
        """The optimizer's own saved state (e.g. a serialized ``state_dict``)."""
        raise NotImplementedError

    def load(self, saved: bytes) -> None:
        """Load a state saved by :meth:`save` of an instance over the same groups."""
        raise NotImplementedError

    def load_live(self, source: Instance) -> Callable[[], None]:
        """Load ``source``'s state dict object itself (in process, not serialized); only with
        ``Capabilities.live_state``. Returns a function that changes that object in place,
        as code that goes on using it would: every tensor in it, every hyperparameter."""
        raise NotImplementedError

    def change_hyperparameters(self) -> None:
        """Change every group's hyperparameters in place, as a scheduler would."""
        raise NotImplementedError

    def retune(self, hypers: Sequence[Hyper]) -> None:
        """Set the hyperparameters (lr, betas, eps, weight decay; maximize stays) of the
        first ``len(hypers)`` groups to ``hypers`` in the live optimizer; only with
        ``Capabilities.retune``."""
        raise NotImplementedError

    def grads(self) -> list[list[FloatArray | None]]:
        """The gradients as the implementation holds them now (to check they are unchanged)."""
        return []

    def hyperparameters(self) -> list[dict[str, object]]:
        """Per-group hyperparameters as the implementation holds them (unchanged by a step)."""
        return []


@contextmanager
def implementation_call(call: str) -> Iterator[None]:
    """Mark a call into the implementation: what it raises becomes :class:`ImplementationError`.

    Adapters wrap exactly the implementation's own calls (its constructor, ``step``,
    ``add_param_group``, ``state_dict``/``load_state_dict``, ``init``/``update``) in it, and
    nothing of the suite's own work (setting gradients, reading and converting state), so
    that an exception of the suite is never counted against the implementation. Each call
    runs under the time limit of :mod:`radam_verify.watchdog`.
    """
    try:
        with watchdog.call(call):
            yield
    except ImplementationError:
        raise
    except Exception as error:
        raise ImplementationError(call, error) from error


def carried(fmt: Format, values: object) -> np.ndarray:
    """``values`` rounded to ``fmt``, in a numpy dtype every framework takes: bfloat16 and
    float16 values are carried exactly as float32 (numpy has no arithmetic of its own for
    them), and the framework rounds them back to the tensor's dtype without a change."""
    rounded = np.asarray(values, dtype=np.float64).astype(fmt.numpy_type)
    return rounded.astype(np.float32) if fmt.narrow else rounded


def flat(values: object) -> np.ndarray:
    """A snapshot of any real array-like as a new flat float64 array.

    Always a copy: a float64 array converted with ``np.asarray`` would be the
    implementation's own memory, and a step that updates it in place would change every
    state read before it. Exact for every real format up to binary64 (float16, bfloat16
    from ``ml_dtypes``, float32, float64, integers below 2^53).
    """
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


def refuse_drawn(kwargs: Mapping[str, object], drawn: Sequence[str]) -> None:
    """A usage error when the constructor keywords name a hyperparameter the suite draws
    (its value would silently replace every drawn one)."""
    named = [name for name in drawn if name in kwargs]
    if named:
        raise UsageError(
            f"--verify-kwargs names {', '.join(named)}: the suite draws these hyperparameters "
            "itself over their whole domain; remove them from --verify-kwargs (to verify one "
            "reading, pass --verify-convention; to fix a value, wrap the implementation)")


def required(values: np.ndarray | None) -> np.ndarray:
    """m or v of a state to inject, which must be given."""
    if values is None:
        raise ValueError("an injected state needs m and v")
    return values


class Adapter(ABC):
    """One implementation with its constructor keywords, device and dtype."""

    spec: str  # what the user named, e.g. "torch.optim:RAdam"
    kind: str  # "torch", "optax" or "protocol"
    version: str  # the version of the distribution that provides it, or "unknown"
    #: the distribution that provides it, e.g. "torch-optimi" (set by load_adapter)
    distribution: str = "unknown"
    fmt: Format
    device: str
    kwargs: Mapping[str, object]
    capabilities: Capabilities
    #: what m and v hold and where the step count lives (:mod:`radam_verify.layout`), found
    #: by probing; ``ParamState.m``/``v`` are in these coordinates, as the implementation
    #: holds them
    state_layout: Layout = RAW
    #: how the implementation's schedule is judged (``--verify-schedule``): ``textbook``
    #: allows every legitimate binary64 evaluation, ``accurate`` a few ulps
    #: (:data:`radam_verify.suite.options.SCHEDULES`)
    schedule: str = "textbook"
    #: the step count from which the reading holds Lookahead's slow weights
    #: (``Convention.slow_from``): an injected state at an earlier step has none
    slow_from: int = 0

    @abstractmethod
    def open(self, groups: Sequence[GroupSpec], path: str | None = None) -> Instance:
        """A fresh optimizer over ``groups``; ``path`` names one of the code paths."""

    def lookahead(self) -> tuple[Adapter | None, int, float] | None:
        """Where the implementation is Lookahead: an adapter for the optimizer a wrapper wraps
        (None where Lookahead is built in, as Ranger's), and k and alpha as an instance it
        builds holds them (identification then names Lookahead's reading beside the inner
        one); None otherwise, or where the instance does not show its k and alpha."""
        return None

    def script_driver(self, scenario: Scenario) -> Driver | None:
        """This framework's part of a stand-alone reproduction script for ``scenario``
        (:mod:`radam_verify.adapters.script`); None where the adapter writes none."""
        del scenario
        return None

    @property
    def framework(self) -> str:
        """The framework the implementation runs on and its version, e.g. ``torch 2.13.0``
        (for the plain-object protocol: the implementation's own distribution)."""
        return f"{self.distribution} {self.version}"

    def to_format(self, values: np.ndarray) -> np.ndarray:
        """Values rounded to the implementation's dtype (what it will hold)."""
        return np.asarray(values, dtype=np.float64).astype(self.fmt.numpy_type)

    @property
    def dtype(self) -> str:
        """The dtype as the user named it (``complex64`` verifies float32 arithmetic)."""
        return self.fmt.name

    @property
    def hyperparameter_keys(self) -> list[str]:
        """The names under which the drawn hyperparameters are set for each group, as the
        implementation's users write them (shown in the verdict)."""
        return []

    @property
    def provenance(self) -> str:
        """The distribution and its version, and the framework's beside it where it is
        another one: ``torch-optimi 0.3.3, torch 2.13.0``."""
        own = f"{self.distribution} {self.version}"
        return own if self.framework == own else f"{own}, {self.framework}"

    def describe(self) -> str:
        return f"{self.spec} ({self.provenance}), {self.dtype} on {self.device}"

    def platform_flushes(self) -> str | None:
        """Whether the framework's arithmetic on this device flushes subnormals to zero, in
        words (None: IEEE gradual underflow). Probed in the framework itself, not through
        the implementation, so that a platform property is never mistaken for the
        implementation's (the plain protocol's arithmetic is its own: not probed)."""
        return None


def flush_probe(multiply: Callable[[np.ndarray, np.ndarray], np.ndarray], fmt: Format,
                where: str) -> str | None:
    """Probe a framework's ``multiply`` (arrays in, the float64 values of its result out) in
    ``fmt``: N * 1/2 has a subnormal result of normal operands (0 where results are
    flushed), (N/2) * 1 a subnormal operand (0 where operands are flushed); N is the
    smallest normal number. Returns what flushes, in words, or None."""
    normal = fmt.smallest_normal
    got = multiply(np.array([normal, normal / 2]), np.array([0.5, 1.0]))
    flushed = [what for what, value in zip(("subnormal results", "subnormal operands"), got,
                                           strict=True) if float(value) == 0.0]
    if not flushed:
        return None
    return f"{where} flushes {' and '.join(flushed)} to zero in {fmt.name}"


def flushes_on_paths(found: Mapping[str, str | None]) -> str | None:
    """What :func:`flush_probe` found on each of a framework's paths (path -> its words, or
    None), in words: one text where every path flushes alike, else each path's own."""
    texts = set(found.values()) - {None}
    if not texts:
        return None
    if len(texts) == 1 and None not in found.values():
        return f"{texts.pop()} ({' and '.join(found)})"
    return "; ".join(f"{text} ({path})" for path, text in found.items() if text)
