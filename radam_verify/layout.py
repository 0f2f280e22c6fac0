"""State layouts: what an implementation keeps of RAdam's state, and the exact map to (m, v, t).

Implementations keep different quantities, all legitimate readings of the same algorithm:

* ``raw`` moments: m_t = b1 m_{t-1} + (1 - b1) g and v_t likewise (torch, optax, the paper);
* ``debiased`` moments: the bias-corrected m_hat_t = m_t / (1 - b1^t) and v_hat_t, kept by
  the debiased recursion m_hat_t = beta1_hat_t m_hat_{t-1} + (1 - beta1_hat_t) g with
  beta_hat_t = b (1 - b^(t-1)) / (1 - b^t) (torch-optimi; derivation ``debiased-recursion``
  in ``derivations/error-model.md``, section 8).

and count steps per tensor (a tensor without a gradient is not stepped and keeps its count),
per group (the group's counter advances on every ``step()``, so a tensor without a
gradient keeps its stored state while t advances), per optimizer call (Keras' ``iterations``
advances on every ``apply_gradients`` call, which a user makes for a group only with at least
one gradient: t advances for a tensor without a gradient where another tensor of its group
has one), or not at all: PaddlePaddle keeps, per
tensor, the running powers beta1^t and beta2^t and rho's term t b2^t / (1 - b2^t), each
advanced by its own recursion, and t is implied by them (``powers``; a tensor without a
gradient keeps them, as with a per-tensor count).

The reference runs in raw coordinates. A layout maps a stored state to raw coordinates
(``exact_state``: an injected or read-back state, at the reference's working precision) and
back (``stored``: the exact values an implementation in that layout must hold), so a verdict
compares what the implementation holds with the exact value of that same quantity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import mpmath

from radam_verify.errors import UsageError
from radam_verify.hyper import Hyper
from radam_verify.precision import DEFAULT_PRECISION_BITS, real
from radam_verify.reference import ExactState

Moments = Literal["raw", "debiased"]
Counter = Literal["tensor", "group", "call", "powers"]
MOMENTS: tuple[Moments, ...] = ("raw", "debiased")
COUNTERS: tuple[Counter, ...] = ("tensor", "group", "call", "powers")


@dataclass(frozen=True)
class Layout:
    """Which moments the implementation stores and where its step counter lives."""

    moments: Moments = "raw"
    counter: Counter = "tensor"

    def __post_init__(self) -> None:
        if self.moments not in MOMENTS:
            raise UsageError(f"unknown moment layout {self.moments!r}; use one of {', '.join(MOMENTS)}")
        if self.counter not in COUNTERS:
            raise UsageError(f"unknown step counter {self.counter!r}; use one of {', '.join(COUNTERS)}")

    @property
    def debiased(self) -> bool:
        return self.moments == "debiased"

    @property
    def shared(self) -> bool:
        """Whether the tensors of a group share one step count (a step without a gradient
        advances a tensor's t)."""
        return self.counter in ("group", "call")

    def describe(self) -> str:
        """One phrase for the header: ``bias-corrected moments m_hat, v_hat; one step count
        per group``."""
        moments = ("bias-corrected moments m_hat, v_hat (debiased recursion)" if self.debiased
                   else "moments m, v")
        counter = {"group": "one step count per group (advances on every step)",
                   "tensor": "a step count per tensor",
                   "call": ("one step count per group, advanced by each call that steps one "
                            "of its tensors"),
                   "powers": ("no step count: running powers beta1^t, beta2^t and "
                              "t b2^t / (1 - b2^t) per tensor")}[self.counter]
        return f"{moments}; {counter}"

    def to_json(self) -> dict[str, str]:
        return {"moments": self.moments, "counter": self.counter, "description": self.describe()}

    # -- the exact map ---------------------------------------------------------------------
    def exact_state(self, theta: Iterable[float], m: Iterable[float], v: Iterable[float], t: int,
                    hyper: Hyper, v_max: Iterable[float] | None = None,
                    slow: Iterable[float] | None = None) -> ExactState:
        """The raw state (theta, m, v, t) of a tensor holding ``m``, ``v`` in this layout.

        Raw moments are taken exactly. Bias-corrected ones are multiplied by 1 - b^t at the
        reference's working precision (at t = 0 that is zero whatever is held: the first
        debiased step gives the held value the weight beta_hat_1 = 0).
        """
        # AMSGrad's maximum (raw moments only) and Lookahead's slow weights: taken exactly
        return self.exact_state_from(ExactState.from_floats(theta, m, v, t, v_max, slow), t,
                                     hyper)

    def stored(self, state: ExactState, hyper: Hyper) -> ExactState:
        """The state in this layout's coordinates: what a correct implementation holds."""
        if not self.debiased:
            return state
        _no_maximum(state)
        if state.t == 0:
            zeros = tuple(real.zero for _ in state.m)
            return replace(state, m=zeros, v=zeros, t=0)
        bc1, bc2 = corrections(hyper, state.t)
        with real.workprec(DEFAULT_PRECISION_BITS):
            return replace(state, m=tuple(x / bc1 for x in state.m),
                           v=tuple(x / bc2 for x in state.v))

    def skip(self, state: ExactState, hyper: Hyper) -> ExactState:
        """A step on which the tensor has no gradient: it keeps its stored state; with a group
        counter t advances (so raw moments held as bias-corrected ones are rescaled)."""
        if not self.shared:
            return state
        held = self.stored(state, hyper)
        return self.exact_state_from(held, state.t + 1, hyper)

    def exact_state_from(self, held: ExactState, t: int, hyper: Hyper) -> ExactState:
        """:meth:`exact_state` of an exact stored state (no rounding to floats)."""
        if not self.debiased:
            return replace(held, t=t)
        _no_maximum(held)
        bc1, bc2 = corrections(hyper, t)
        with real.workprec(DEFAULT_PRECISION_BITS):
            return replace(held, m=tuple(x * bc1 for x in held.m),
                           v=tuple(x * bc2 for x in held.v), t=t)


RAW = Layout()


def _no_maximum(state: ExactState) -> None:
    if state.v_max:
        raise UsageError("AMSGrad's running maximum beside bias-corrected moments is not a "
                         "layout radam-verify maps; verify with raw moments")


def corrections(hyper: Hyper, t: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """1 - b1^t and 1 - b2^t at the reference's working precision (0 at t = 0)."""
    with real.workprec(DEFAULT_PRECISION_BITS + 64):
        one = real.mpf(1)
        return (+(one - real.mpf(hyper.beta1) ** t), +(one - real.mpf(hyper.beta2) ** t))


def debiased_betas(beta: float, t: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(beta_hat_t, 1 - beta_hat_t) exactly to working precision: b (1 - b^(t-1)) / (1 - b^t)
    and (1 - b) / (1 - b^t); at t = 1, (0, 1)."""
    with real.workprec(DEFAULT_PRECISION_BITS + 64):
        b = real.mpf(beta)
        bc = 1 - b**t
        comp = (1 - b) / bc
        return +(1 - comp), +comp


def identify_moments(m: Sequence[float], v: Sequence[float], grad: Sequence[float],
                     beta1: float, beta2: float) -> Moments | None:
    """The moment layout from the state after one step from zero with gradient ``grad``:
    raw moments hold (1 - b1) g and (1 - b2) g^2, debiased ones g and g^2 (None: neither)."""
    def near(values: Sequence[float], wanted: Sequence[float]) -> bool:
        return all(abs(x - w) <= 1e-3 * abs(w) for x, w in zip(values, wanted, strict=True))

    if near(m, [(1 - beta1) * g for g in grad]) and near(v, [(1 - beta2) * g * g for g in grad]):
        return "raw"
    if near(m, list(grad)) and near(v, [g * g for g in grad]):
        return "debiased"
    return None
