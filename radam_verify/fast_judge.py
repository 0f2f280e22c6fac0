"""Judge large tensors against the fast reference, with the fast reference's own error bounded.

The mpmath judge (:func:`radam_verify.judge.judge_trajectory`) evaluates every element in
exact arithmetic, which costs about 30 microseconds per element and step: right for the
handful of elements most properties draw, too slow for the 10^4 to 10^6 elements that
reach vectorised and multithreaded kernels. Here the centre of the comparison is the fast
reference (:mod:`radam_verify.fast`: the step in binary64 with the exact coefficients,
each rounded once), and the tolerance is certified by the triangle inequality
(``derivations/error-model.md``, section 6):

    |impl_{t+1} - fast_{t+1}| <= |impl_{t+1} - E(fast_t)| + |E(fast_t) - fast_{t+1}|

where E is the exact step. The first term is the implementation's error model at the
centre fast_t, with the input bound A_t (how far the implementation's state may be from
fast_t); the second is the fast kernel's own rounding, the same error model for binary64
with exactly rounded scalars. Their sum is A_{t+1}. Every correct implementation satisfies
|impl_t - fast_t| <= A_t, so a rejection is sound; an accepted implementation is within
A_t + (the fast path's accumulated error, binary64 roundings) of exact, a margin below one
part in 10^8 of the bound for float32 and narrower formats. For binary64 implementations
the fast path's error is as large as theirs, so they stay with the mpmath judge.

RAdam's step is elementwise: the failing element's exact value is then computed alone, in
mpmath, so a counterexample shows the exact value, not the centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radam_verify.coefficients import exact_coefficients
from radam_verify.conventions import Convention
from radam_verify.errors import OutOfDomainError
from radam_verify.floats import FLOAT64, Array, Format
from radam_verify.hyper import Hyper
from radam_verify.judge import Judgement, Worst, ambiguous_steps, element_errors
from radam_verify.kernel import apply_step
from radam_verify.precision import real
from radam_verify.reference import ExactState, exact_step
from radam_verify.schedule import schedule_step
from radam_verify.tolerance import ScheduleErrors, StepBound, step_bound

#: tensors with more elements than this are judged here (formats narrower than binary64)
FAST_ABOVE = 64

_QUANTITIES = ("theta", "m", "v")


@dataclass(frozen=True)
class _At:
    """The worst element of one step: quantity (0, 1, 2), index, observed value, error,
    bound, one ulp at the result and at the operand scale."""

    quantity: int
    index: int
    observed: float
    error: float
    bound: float
    ulp: float
    scale_ulp: float


@dataclass(frozen=True)
class _Compared:
    ratio: float
    ulps: float
    result_ulps: float
    out: int
    at: _At | None


def applies(fmt: Format, size: int) -> bool:
    """Whether a tensor of ``size`` elements in ``fmt`` is judged by the fast reference."""
    return size > FAST_ABOVE and fmt.u > FLOAT64.u


def judge_trajectory_fast(
    observed: Sequence[Sequence[Array | None]],
    start: tuple[Array, Array, Array, int],
    grads: Sequence[Array | None],
    hyper: Hyper,
    convention: Convention,
    fmt: Format,
) -> Judgement:
    """Compare (theta, m, v) after each step from ``start`` (theta, m, v as the
    implementation holds them, raw moments, and the step count t) with the certified fast
    trajectory; the same verdict fields as the mpmath judge (a gradient on every step)."""
    theta, m, v = (np.asarray(x, dtype=np.float64).reshape(-1) for x in start[:3])
    t0 = int(start[3])
    bound = (np.zeros_like(theta),) * 3
    steps = list(range(t0 + 1, t0 + len(grads) + 1))
    band = set(ambiguous_steps(hyper, convention, fmt, steps))
    worst, worst_ulps, worst_result, out = 0.0, 0.0, 0.0, 0
    branches: list[bool | None] = []
    where: tuple[int, _At, Array, Array] | None = None  # step, element, centres, bounds
    for t, (grad, obs) in enumerate(zip(grads, observed, strict=True), start=t0 + 1):
        assert grad is not None, "the fast judge takes a gradient on every step"
        g = np.asarray(grad, dtype=np.float64).reshape(-1)
        sched = schedule_step(t, hyper.beta1, hyper.beta2, convention)
        errors = ScheduleErrors.binary64(sched, hyper, fmt)
        # inside the band either branch is legitimate: follow the one the implementation took
        best = None
        for branch in ([False, True] if t in band else [None]):
            c = exact_coefficients(t, hyper, convention, branch)
            new = apply_step(theta, m, v, g, c, hyper, convention)
            centre = (new[0].astype(np.float64), new[1].astype(np.float64),
                      new[2].astype(np.float64))
            impl = step_bound(theta, m, v, g, c, hyper, convention, fmt, errors, *bound)
            own = step_bound(theta, m, v, g, c, hyper, convention, FLOAT64,
                             ScheduleErrors.rounded_only(FLOAT64))
            total = StepBound(impl.theta + own.theta, impl.m + own.m, impl.v + own.v,
                              impl.scale)
            compared = _compare(obs, centre, total, fmt)
            if best is None or compared.ratio < best[0].ratio:
                best = (compared, centre, total, branch)
        assert best is not None
        compared, (theta, m, v), total, chosen = best
        branches.append(chosen)
        bound = (total.theta, total.m, total.v)
        _require_in_range((theta, m, v), t, fmt)
        if compared.at is not None and (where is None or compared.ratio > worst):
            k = compared.at.quantity
            where = (t, compared.at, (theta, m, v)[k], bound[k])
        worst, out = max(worst, compared.ratio), max(out, compared.out)
        worst_ulps = max(worst_ulps, compared.ulps)
        worst_result = max(worst_result, compared.result_ulps)
    detail = None
    if where is not None:
        t, at, centres, limits = where
        exact = _exact_element(start, grads, branches, at.index, t, hyper, convention,
                               at.quantity)
        detail = Worst(t, _QUANTITIES[at.quantity], at.index, real.nstr(exact, 20),
                       at.observed, at.error, at.bound, at.ulp, at.scale_ulp,
                       tuple(float(x) for x in centres), tuple(float(x) for x in limits),
                       "fast")
    return Judgement(worst <= 1.0, worst, worst_ulps, tuple(sorted(band)), out, detail,
                     worst_result)


def _compare(observed: Sequence[Array | None], centre: tuple[Array, Array, Array],
             bound: StepBound, fmt: Format) -> _Compared:
    """Largest error / bound, errors in ulps, elements out of domain, the worst element."""
    judgeable = bound.judgeable
    out = int(np.sum(~judgeable))
    scales = bound.scale or (np.zeros_like(bound.theta),) * 3
    ratio, ulps, result_ulps = 0.0, 0.0, 0.0
    at = None
    for k, (got, want, limit, size) in enumerate(zip(observed, centre,
                                                     (bound.theta, bound.m, bound.v), scales,
                                                     strict=True)):
        if got is None:
            continue
        got64, e = element_errors(got, want, limit, size, judgeable, fmt)
        result_ulps, ulps = max(result_ulps, e.worst_result_ulps), max(ulps, e.worst_ulps)
        if e.ratio.size and (at is None or float(np.max(e.ratio)) > ratio):
            i = int(np.argmax(e.ratio))  # the first element with the largest ratio
            ratio = float(e.ratio[i])
            at = _At(k, i, float(got64[i]), float(e.error[i]), float(limit[i]), float(e.ulp[i]),
                     float(e.scale_ulp[i]))
    return _Compared(ratio, ulps, result_ulps, out, at)


def _require_in_range(state: tuple[Array, Array, Array], t: int, fmt: Format) -> None:
    """As the mpmath judge: a value beyond the format's range is out of the error model's
    domain (the centre is within a few binary64 ulps of the exact value)."""
    largest = fmt.largest
    for name, values in zip(_QUANTITIES, state, strict=True):
        beyond = np.flatnonzero(~(np.abs(values) <= largest))
        if beyond.size:
            i = int(beyond[0])
            raise OutOfDomainError(
                f"the exact {name}[{i}] after step t={t} is about {values[i]:.6g}, beyond the "
                f"largest {fmt.name} ({largest:.6g}): the error model assumes no overflow")


def _exact_element(start: tuple[Array, Array, Array, int], grads: Sequence[Array | None],
                   branches: Sequence[bool | None], index: int, t: int, hyper: Hyper,
                   convention: Convention, quantity: int) -> object:
    """The exact value of one element's quantity after step ``t`` (mpmath, elementwise),
    on the branches the judgement followed."""
    theta, m, v = (float(np.asarray(x).reshape(-1)[index]) for x in start[:3])
    state = ExactState.from_floats([theta], [m], [v], int(start[3]))
    for grad, branch in zip(grads[:t - int(start[3])], branches, strict=False):
        state = exact_step(state, [float(np.asarray(grad).reshape(-1)[index])], hyper,
                           convention, rectified=branch)
    return (state.theta, state.m, state.v)[quantity][0]
