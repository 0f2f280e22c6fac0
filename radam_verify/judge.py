"""Judge an implementation's numbers against the exact reference and the error model.

A step or trajectory conforms when every judgeable element lies within its bound.
Where the exact rho_t is inside the ambiguity band of the threshold, both branches are
legitimate: the reference is computed both ways at that step and follows the branch that
matches the implementation's numbers (within the bound, the two paths stay close).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from radam_verify.coefficients import exact_coefficients
from radam_verify.conventions import Convention, LookaheadAction
from radam_verify.errors import OutOfDomainError
from radam_verify.floats import FLOAT64, Array, Format
from radam_verify.hyper import Hyper
from radam_verify.layout import RAW, Layout
from radam_verify.powers import Powers, running_powers
from radam_verify.precision import real
from radam_verify.reference import ExactState, exact_step, slow_held
from radam_verify.schedule import schedule_step
from radam_verify.tolerance import (
    MomentRecursion,
    ScheduleErrors,
    StepBound,
    gradless_sync_bound,
    step_terms,
)

#: what the ulps of a verdict are counted at (the header's legend and the JSON verdict)
UNITS = {
    "errors": ("ulps of the operand scale: one ulp of the format at the largest magnitude the "
               "step combines for the element (theta: the parameter before the step, the update "
               "and the result; m: m before the step, (1 - beta1) g and the result; v: v before "
               "the step, (1 - beta2) g^2 and the result), the scale the error model's bound is "
               "measured at"),
    "result_ulps": ("ulps of the result itself (the exact value): where theta cancels the "
                    "result is far smaller than the operands, so an error well within the bound "
                    "can be millions of these; shown beside the errors, never against the bound"),
}


@dataclass(frozen=True)
class Worst:
    """The element with the largest error / bound: where, the exact and observed values.

    Errors are reported in ulps of the operand scale (``scale_ulp``: one ulp of the format at
    the largest magnitude the step combines for this element), the scale the bound is
    measured at; ``ulp`` is one ulp at the result, which is much smaller where theta cancels.
    ``exact_all`` and ``bound_all`` are the whole tensor's exact values and bounds at that
    step (for a stand-alone reproduction): tuples, or the fast judge's float64 arrays
    (read-only; :func:`listed` gives their Python floats).
    """

    t: int  # the step count after the step (1-based)
    quantity: str  # "theta", "m" or "v"
    index: int  # flat element index
    exact: str  # the exact value, 20 significant digits
    observed: float
    error: float
    bound: float
    ulp: float  # one ulp of the format at the larger of |exact| and |observed|
    scale_ulp: float = 0.0  # one ulp of the format at the operand scale
    exact_all: tuple[object, ...] | Array = field(default=(), repr=False, compare=False)
    bound_all: tuple[float, ...] | Array = field(default=(), repr=False, compare=False)
    #: what ``exact_all`` and ``bound_all`` are: "mpmath" (exact values, the bound around
    #: them) or "fast" (the certified fast centre and the tolerance around it)
    reference: str = "mpmath"
    #: the low parts of a double-double fast centre (binary64 implementations): the centre
    #: is exact_all + exact_low, element by element
    exact_low: Array | None = field(default=None, repr=False, compare=False)
    #: where a tensor without a gradient was synced with its group (Lookahead counted per
    #: group): the number of its group's steps from the trajectory's start; None: the step
    #: is the tensor's own step t
    group_step: int | None = None

    @property
    def ratio(self) -> float:
        return math.inf if self.bound == 0 else self.error / self.bound

    @property
    def error_ulps(self) -> float:
        """The error in ulps of the operand scale."""
        return _in_ulps(self.error, self.scale_ulp)

    @property
    def bound_ulps(self) -> float:
        """The bound in ulps of the operand scale."""
        return _in_ulps(self.bound, self.scale_ulp)

    def describe(self) -> str:
        """One line: quantity, step, exact and observed values, error and bound in ulps."""
        when = (f"step t={self.t}" if self.group_step is None else
                f"its group's step {self.group_step} (synced without a gradient, at its own "
                f"step t={self.t})")
        return (f"{self.quantity}[{self.index}] after {when}: exact {self.exact}, "
                f"observed {self.observed!r}; error {_ulps(self.error, self.scale_ulp)} ulps, "
                f"allowed {_ulps(self.bound, self.scale_ulp)} ulps (ulps of the operand scale)")


def listed(values: tuple[object, ...] | Array) -> tuple[object, ...]:
    """``Worst.exact_all`` or ``bound_all`` as a tuple (an array's elements as Python floats)."""
    return tuple(values.tolist()) if isinstance(values, np.ndarray) else values


def _in_ulps(value: float, ulp: float) -> float:
    if not math.isfinite(value):
        return math.inf
    return value / ulp if ulp > 0 else (0.0 if value == 0 else math.inf)


def _ulps(value: float, ulp: float) -> str:
    return f"{value / ulp:.4g}" if ulp > 0 and math.isfinite(value) else repr(value)


@dataclass(frozen=True)
class Judgement:
    """The outcome: ``worst_ratio`` is max(error / bound) over judgeable elements (<= 1 passes)."""

    conforms: bool
    worst_ratio: float
    worst_error_ulps: float  # the largest error in ulps of the operand scale
    ambiguous_steps: tuple[int, ...]
    out_of_domain: int
    worst: Worst | None = None
    worst_result_ulps: float = 0.0  # the largest error in ulps of the result itself
    #: the largest share of theta's bound that the textbook schedule's allowance took (its
    #: bound minus an accurate schedule's, over its bound; 0 where scalars were exact)
    schedule_share: float = 0.0


def ambiguous_steps(hyper: Hyper, convention: Convention, fmt: Format,
                    steps: Sequence[int], schedule: str = "textbook",
                    powers: Powers | None = None) -> list[int]:
    """Steps whose exact rho_t lies within the schedule's allowed evaluation error
    (``schedule``: ``textbook`` or ``accurate``) of the threshold (``powers``: the running
    products of one step, where the reading forms its corrections from them)."""
    found = []
    for t in steps:
        sched = schedule_step(t, hyper.beta1, hyper.beta2, convention, powers=powers)
        if ScheduleErrors.allowed(schedule, sched, hyper, fmt).ambiguous(sched,
                                                                         convention.threshold):
            found.append(t)
    return found


def step_powers(start_t: int, hypers: Sequence[Hyper], grads: Sequence[object],
                convention: Convention) -> list[Powers | None]:
    """Per step, the running products of the betas where the reading forms its corrections
    from them and a schedule changed a beta (:mod:`radam_verify.powers`); None elsewhere."""
    if convention.powers == "count":
        return [None] * len(hypers)
    return running_powers(start_t, hypers, [g is not None for g in grads],
                          float32_scalars=convention.float32_scalars)


def allowance_share(textbook: StepBound, accurate: StepBound) -> float:
    """The largest share of theta's bound that the textbook schedule's allowance takes:
    max over elements of (textbook - accurate) / textbook (error-model.md, section 2)."""
    with np.errstate(all="ignore"):
        share = (textbook.theta - accurate.theta) / textbook.theta
    share = share[np.isfinite(share)]
    return float(np.max(share, initial=0.0))


def _bound(state: ExactState, grad: Array, hyper: Hyper, convention: Convention, fmt: Format,
           rectified: bool | None, inputs: StepBound | None, exact_scalars: bool,
           layout: Layout = RAW, schedule: str = "textbook",
           a_g: Array | float = 0.0, action: LookaheadAction | None = None,
           powers: Powers | None = None) -> tuple[StepBound, float]:
    """The bound of one step from ``state`` with the ``schedule`` allowance, and the share of
    theta's bound the textbook allowance takes; m and v (and their bounds) in ``layout``'s
    coordinates; ``a_g``: the gradient's error (LAMB's global clipping); ``powers``: the
    running products the step's corrections are formed from (None: the count's)."""
    t = state.t + 1
    sched = schedule_step(t, hyper.beta1, hyper.beta2, convention, powers=powers)
    c = exact_coefficients(t, hyper, convention, rectified, powers)
    held = layout.stored(state, hyper)
    theta, m, v = (np.asarray(x, dtype=np.float64) for x in held.floats())
    v_max = np.asarray(held.max_floats(), dtype=np.float64) if convention.keeps_max else None
    slow = np.asarray(held.slow_floats(), dtype=np.float64) if convention.lookahead else None
    a = inputs if inputs is not None else StepBound(*(np.zeros_like(theta),) * 3)
    a_vmax: Array | float = 0.0 if a.v_max is None else a.v_max
    a_slow: Array | float = 0.0 if a.slow is None else a.slow
    moments = MomentRecursion.debiased(hyper, t) if layout.debiased else None
    terms = step_terms(theta, m, v, grad, c, hyper, convention, moments, v_max, slow, action)
    if exact_scalars:
        return terms.bound(fmt, ScheduleErrors.rounded_only(fmt), a.theta, a.m, a.v,
                           a_vmax=a_vmax, a_slow=a_slow, a_g=a_g), 0.0
    accurate = schedule == "accurate"
    textbook_bound = terms.bound(fmt, ScheduleErrors.binary64(sched, hyper, fmt), a.theta, a.m,
                                 a.v, scale=not accurate, a_vmax=a_vmax, a_slow=a_slow, a_g=a_g)
    accurate_bound = terms.bound(fmt, ScheduleErrors.accurate(sched, fmt), a.theta, a.m, a.v,
                                 scale=accurate, a_vmax=a_vmax, a_slow=a_slow, a_g=a_g)
    share = allowance_share(textbook_bound, accurate_bound)
    return (accurate_bound if accurate else textbook_bound), share


def _gradless_bound(state: ExactState, convention: Convention, fmt: Format,
                    action: LookaheadAction, inputs: StepBound | None, layout: Layout,
                    hyper: Hyper) -> StepBound:
    """The bound after a sync of a tensor that had no gradient on that step."""
    held = layout.stored(state, hyper)
    theta, m, v = (np.asarray(x, dtype=np.float64) for x in held.floats())
    v_max = np.asarray(held.max_floats(), dtype=np.float64) if convention.keeps_max else None
    slow = np.asarray(held.slow_floats(), dtype=np.float64)
    return gradless_sync_bound(theta, m, v, slow, v_max, action, convention, fmt, inputs)


@dataclass(frozen=True)
class _Compared:
    ratio: float
    ulps: float  # at the operand scale
    result_ulps: float
    out: int
    worst: Worst | None


def _compare(observed: Sequence[Array | None], exact: ExactState, bound: StepBound,
             fmt: Format) -> _Compared:
    """Largest error / bound and errors in ulps; ``None`` observed quantities are not read.
    ``observed`` is (theta, m, v, v_max, slow), as far as given (:data:`QUANTITIES`)."""
    ratio, ulps, result_ulps, worst = 0.0, 0.0, 0.0, None
    judgeable = bound.judgeable
    out = int(np.sum(~judgeable))
    limits = bound.quantities()
    names = ("theta", "m", "v", *(
        name for name, x in (("v_max", bound.v_max), ("slow", bound.slow)) if x is not None))
    held: dict[str, tuple[Any, ...]] = {"theta": exact.theta, "m": exact.m, "v": exact.v,
                                        "v_max": exact.maxima(), "slow": exact.slow_weights()}
    exact_values = [held[name] for name in names]
    wanted = [[float(x) for x in values] for values in exact_values]
    scales = bound.scale or (np.zeros_like(bound.theta),) * len(limits)
    given = dict(zip(QUANTITIES, observed, strict=False))
    seen = [given.get(name) for name in names]
    for k, (got, want, limit, size) in enumerate(zip(seen, wanted, limits, scales,
                                                     strict=True)):
        if got is None:
            continue
        # the exact values as double-doubles: rounded to binary64 alone they would move a
        # binary64 implementation's error by up to half an ulp of the result
        low = np.array([float(x - w) for x, w in zip(exact_values[k], want, strict=True)],
                       dtype=np.float64) if fmt.u <= FLOAT64.u else None
        got64, e = element_errors(got, want, limit, size, judgeable, fmt, low)
        err, r, ulp, at_scale = e.error, e.ratio, e.ulp, e.scale_ulp
        result_ulps, ulps = max(result_ulps, e.worst_result_ulps), max(ulps, e.worst_ulps)
        if r.size and (worst is None or float(np.max(r)) > ratio):
            i = int(np.argmax(r))
            ratio = float(r[i])
            worst = Worst(exact.t, names[k], i, real.nstr(exact_values[k][i], 20),
                          float(got64[i]), float(err[i]), float(limit[i]), float(ulp[i]),
                          float(at_scale[i]), tuple(exact_values[k]),
                          tuple(float(x) for x in limit))
    return _Compared(ratio, ulps, result_ulps, out, worst)


#: what an observation of a tensor lists, in this order (v_max: AMSGrad's running maximum;
#: slow: Lookahead's slow weights); a shorter observation leaves the rest unread
QUANTITIES = ("theta", "m", "v", "v_max", "slow")


@dataclass(frozen=True)
class ElementErrors:
    """Per element: |observed - reference| (inf where observed is not finite), error /
    bound, one ulp at the result and at the operand scale; and the largest errors in ulps."""

    error: Array
    ratio: Array
    ulp: Array
    scale_ulp: Array
    worst_result_ulps: float
    worst_ulps: float


def element_errors(got: Array, want: Sequence[float] | Array, limit: Array, size: Array,
                   judgeable: npt.NDArray[np.bool_], fmt: Format,
                   want_low: Array | None = None) -> tuple[Array, ElementErrors]:
    """The observed values as flat float64 and their errors against ``want`` (the exact
    values or the fast centre; ``want_low``: the low parts of a double-double centre) and
    the bound ``limit`` (unjudgeable elements count 0)."""
    got64 = np.asarray(got, dtype=np.float64).reshape(-1)
    want64 = np.asarray(want, dtype=np.float64)
    # where every element is finite, judgeable and has a positive bound (the usual case),
    # the masks below select everything and are skipped: the values are the same
    finite = np.isfinite(got64)
    every_finite, every_judgeable = bool(finite.all()), bool(judgeable.all())
    with np.errstate(all="ignore"):
        # got - hi is exact near the centre (Sterbenz); the low part is then subtracted
        err = np.abs(got64 - want64) if want_low is None else np.abs((got64 - want64) - want_low)
        if not every_finite:
            err = np.where(finite, err, np.inf)
        if not every_judgeable:
            err = np.where(judgeable, err, 0.0)
        positive = limit > 0
        if bool(positive.all()):  # 0 / a positive bound is 0
            r = err / limit
        else:
            r = np.where(err == 0, 0.0, err / np.where(positive, limit, 0.0))
        magnitude = np.abs(got64) if every_finite else np.where(finite, np.abs(got64), 0.0)
        scale = np.maximum(np.abs(want64), magnitude)
        ulp = fmt.ulp(scale)
        at_scale = fmt.ulp(np.fmax(size, scale))
        result = err / ulp
        in_scale = err / at_scale
        if not every_judgeable:
            result, in_scale = np.where(judgeable, result, 0.0), np.where(judgeable, in_scale, 0.0)
        result_ulps = float(np.max(result, initial=0.0))
        ulps = float(np.max(in_scale, initial=0.0))
    return got64, ElementErrors(err, r, ulp, at_scale, result_ulps, ulps)


def _require_in_range(state: ExactState, fmt: Format) -> None:
    """Raise :class:`OutOfDomainError` when an exact value exceeds the format's range.

    The error model (fl(x) = x (1 + delta)) assumes no overflow; beyond the largest finite
    value the correctly rounded result is an infinity and nothing later is comparable.
    """
    largest = fmt.largest
    for name, values in zip(QUANTITIES, (*state.floats(), state.max_floats(),
                                         state.slow_floats()), strict=True):
        for i, value in enumerate(values):
            if not abs(value) <= largest:
                raise OutOfDomainError(
                    f"the exact {name}[{i}] after step t={state.t} is {value:.6g}, beyond the "
                    f"largest {fmt.name} ({largest:.6g}): the error model assumes no overflow")


def observed_now(observed: Sequence[Array | None], convention: Convention, t: int,
                 holds: bool | None = None) -> Sequence[Array | None]:
    """The observation without slow weights where the reading holds none yet after step
    ``t`` (Lookahead starting them after step k): what an implementation keeps then is not
    a quantity of the algorithm. ``holds``: whether the tensor holds them then (None: as
    its count t says)."""
    if len(observed) < 5 or (convention.holds_slow(t) if holds is None else holds):
        return observed
    return (*observed[:4], None)


def judge_trajectory(
    observed: Sequence[Sequence[Array | None]],
    start: ExactState,
    grads: Sequence[Array | None],
    hyper: Hyper | Sequence[Hyper],
    convention: Convention,
    fmt: Format,
    *,
    exact_scalars: bool = False,
    layout: Layout = RAW,
    schedule: str = "textbook",
    first_failure: bool = False,
    grad_errors: Sequence[Array | None] | None = None,
) -> Judgement:
    """Compare an implementation's (theta, m, v) after each step with the exact trajectory.

    ``m`` or ``v`` may be ``None`` where the implementation's state cannot be read; a fourth
    quantity, AMSGrad's running maximum v_max, is compared where the reading keeps one and
    it is given (not None).
    ``start`` is the state both began from (a fresh state, or one injected at any t);
    the bound accumulates along the way (global error). With one step it is the local check.
    ``hyper``: the hyperparameters of every step, or of each step (a schedule that sets
    them between steps).
    ``exact_scalars``: the implementation received exactly rounded coefficients (the fast
    reference), so only their rounding is allowed and no branch is ambiguous.
    ``layout``: what the implementation stores (:mod:`radam_verify.layout`); observed m and v
    are compared with the exact values of the quantities it stores, and a step without a
    gradient advances t where the layout counts steps per group.
    ``schedule``: the schedule's evaluation allowed (``textbook``: every legitimate binary64
    evaluation; ``accurate``: within a few binary64 ulps of exact); the judgement reports the
    share of the bound the textbook allowance took either way.
    ``first_failure``: stop at the first step that exceeds its bound (identification only
    needs to know that a candidate fails; its worst values are then the first failing
    step's).
    ``grad_errors``: per step, how far the gradient the implementation steps with may be
    from ``grads`` (LAMB's global clipping forms it: :mod:`radam_verify.clipping`); None:
    the gradients are used as given.
    """
    hypers = [hyper] * len(grads) if isinstance(hyper, Hyper) else list(hyper)
    powers = step_powers(start.t, hypers, grads, convention)
    stepped: dict[tuple[Hyper, Powers | None], list[int]] = {}  # the steps each set of
    t = start.t  # hyperparameters (and running powers, where they differ) is in force
    for grad, h, p in zip(grads, hypers, powers, strict=True):
        if grad is not None or layout.shared:
            t += 1
            if grad is not None:
                stepped.setdefault((h, p), []).append(t)
    band = set() if exact_scalars else {
        k for (h, p), ts in stepped.items()
        for k in ambiguous_steps(h, convention, fmt, ts, schedule, p)}
    state, inputs = start, None
    worst, worst_ulps, worst_result, out, where = 0.0, 0.0, 0.0, 0, None
    share = 0.0
    errors = [None] * len(grads) if grad_errors is None else grad_errors
    clock = start.t  # the group's count of steps, which Lookahead may follow
    for grad, obs, a_g, hyper, power in zip(grads, observed, errors, hypers, powers,
                                            strict=True):
        clock += 1
        holds = slow_held(state, convention)
        if grad is None:
            state = layout.skip(state, hyper)
            action = convention.lookahead_action(state.t, clock, stepped=False, holds=holds)
            if action == "none":
                continue
            # a tensor without a gradient synced with its group: theta and phi move
            inputs = _gradless_bound(state, convention, fmt, action, inputs, layout, hyper)
            state = exact_step(state, None, hyper, convention, clock=clock)
            compared = _compare(observed_now(obs, convention, state.t, True),
                                layout.stored(state, hyper), inputs, fmt)
            if compared.worst is not None:
                compared = replace(compared, worst=replace(compared.worst,
                                                           group_step=clock - start.t))
        else:
            g64 = np.asarray(grad, dtype=np.float64)
            t = state.t + 1
            action = convention.lookahead_action(t, clock, holds=holds)
            obs = observed_now(obs, convention, t, holds or action == "set")
            # inside the band either branch is legitimate: follow the one the implementation
            # took
            choices: list[bool | None] = [False, True] if t in band else [None]
            best: tuple[_Compared, ExactState, StepBound, float] | None = None
            for branch in choices:
                bound, step_share = _bound(state, g64, hyper, convention, fmt, branch, inputs,
                                           exact_scalars, layout, schedule,
                                           0.0 if a_g is None else a_g, action, power)
                candidate = exact_step(state, [float(x) for x in g64], hyper, convention,
                                       rectified=branch, clock=clock, powers=power)
                compared = _compare(obs, layout.stored(candidate, hyper), bound, fmt)
                if best is None or compared.ratio < best[0].ratio:
                    best = (compared, candidate, bound, step_share)
            assert best is not None
            compared, state, inputs, step_share = best
            share = max(share, step_share)
        _require_in_range(layout.stored(state, hyper), fmt)
        if where is None or compared.ratio > worst:
            where = compared.worst
        worst, out = max(worst, compared.ratio), max(out, compared.out)
        worst_ulps = max(worst_ulps, compared.ulps)
        worst_result = max(worst_result, compared.result_ulps)
        if first_failure and worst > 1.0:
            break
    return Judgement(worst <= 1.0, worst, worst_ulps, tuple(sorted(band)), out, where,
                     worst_result, share)
