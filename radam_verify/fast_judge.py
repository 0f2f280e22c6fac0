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
mpmath, so a counterexample shows the exact value, not the centre. For the same reason a
step is evaluated in blocks of ``BLOCK`` elements (the fast step, both bounds from the
exact values they share, the comparison), whose intermediates stay in cache; the blocks
give the numbers of the whole tensor, bit for bit. That costs about 0.2 microseconds per
element and step (10^6 float32 elements, on the project's 2-core machine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radam_verify.coefficients import Coefficients, exact_coefficients
from radam_verify.conventions import Convention
from radam_verify.errors import OutOfDomainError
from radam_verify.floats import FLOAT64, Array, Format
from radam_verify.hyper import Hyper
from radam_verify.judge import Judgement, Worst, ambiguous_steps, element_errors
from radam_verify.kernel import apply_step
from radam_verify.precision import real
from radam_verify.reference import ExactState, exact_step
from radam_verify.schedule import schedule_step
from radam_verify.tolerance import ScheduleErrors, step_terms

#: tensors with more elements than this are judged here (formats narrower than binary64)
FAST_ABOVE = 64
#: elements evaluated together: a block's intermediates (a few dozen arrays) stay in cache
BLOCK = 1 << 15

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
    *,
    block: int = BLOCK,
    schedule: str = "textbook",
) -> Judgement:
    """Compare (theta, m, v) after each step from ``start`` (theta, m, v as the
    implementation holds them, raw moments, and the step count t) with the certified fast
    trajectory; the same verdict fields as the mpmath judge (a gradient on every step).
    ``block``: elements evaluated together (the verdict does not depend on it).
    ``schedule``: the schedule's evaluation allowed, as for the mpmath judge (the share of
    the bound the textbook allowance takes is not computed here: it is reported from the
    tensors the mpmath judge judges)."""
    theta, m, v = (np.asarray(x, dtype=np.float64).reshape(-1) for x in start[:3])
    t0 = int(start[3])
    bound = (np.zeros_like(theta),) * 3
    steps = list(range(t0 + 1, t0 + len(grads) + 1))
    band = set(ambiguous_steps(hyper, convention, fmt, steps, schedule))
    worst, worst_ulps, worst_result, out = 0.0, 0.0, 0.0, 0
    branches: list[bool | None] = []
    where: tuple[int, _At, Array, Array] | None = None  # step, element, centres, bounds
    # each step writes its centres and bounds into six arrays of the tensor's size; sets no
    # longer read are reused (a fresh array costs a page fault per page as it is written)
    free: list[_Arrays] = []
    current: _Arrays | None = None  # the set holding (theta, m, v) and bound
    pinned: _Arrays | None = None  # the set ``where`` refers to
    for t, (grad, obs) in enumerate(zip(grads, observed, strict=True), start=t0 + 1):
        assert grad is not None, "the fast judge takes a gradient on every step"
        g = np.asarray(grad, dtype=np.float64).reshape(-1)
        seen = tuple(None if x is None else np.asarray(x, dtype=np.float64).reshape(-1)
                     for x in obs)
        sched = schedule_step(t, hyper.beta1, hyper.beta2, convention)
        errors = ScheduleErrors.allowed(schedule, sched, hyper, fmt)
        # inside the band either branch is legitimate: follow the one the implementation took
        best: _Step | None = None
        for branch in ([False, True] if t in band else [None]):
            c = exact_coefficients(t, hyper, convention, branch)
            arrays = free.pop() if free else _Arrays.empty(theta.size)
            step = _step((theta, m, v), g, bound, seen, _Model(c, hyper, convention, fmt,
                                                               errors), block, branch, arrays)
            if best is None or step.compared.ratio < best.compared.ratio:
                if best is not None:
                    free.append(best.arrays)
                best = step
            else:
                free.append(step.arrays)
        assert best is not None
        compared, (theta, m, v), bound = best.compared, best.centre, best.bound
        branches.append(best.branch)
        if not best.in_range:
            _require_in_range((theta, m, v), t, fmt)
        if compared.at is not None and (where is None or compared.ratio > worst):
            k = compared.at.quantity
            where = (t, compared.at, (theta, m, v)[k], bound[k])
            if pinned is not None and pinned is not current:
                free.append(pinned)
            pinned = best.arrays
        if current is not None and current is not pinned:
            free.append(current)
        current = best.arrays
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
                       _frozen(centres), _frozen(limits), "fast")
    return Judgement(worst <= 1.0, worst, worst_ulps, tuple(sorted(band)), out, detail,
                     worst_result)


@dataclass(frozen=True)
class _Model:
    """What one step is judged with: the branch's exact coefficients, the implementation's
    format and its schedule's errors."""

    c: Coefficients
    hyper: Hyper
    convention: Convention
    fmt: Format
    errors: ScheduleErrors


@dataclass(frozen=True)
class _Arrays:
    """Where one step's results go: the fast centre (theta, m, v) and the tolerance on each."""

    centre: tuple[Array, Array, Array]
    bound: tuple[Array, Array, Array]

    @classmethod
    def empty(cls, n: int) -> _Arrays:
        return cls((np.empty(n), np.empty(n), np.empty(n)), (np.empty(n), np.empty(n),
                                                              np.empty(n)))


@dataclass(frozen=True)
class _Step:
    """One step along one branch: the comparison, the fast centre after it and the
    tolerance A_{t+1} around it (in ``arrays``), whether the centre is within the format's
    range."""

    compared: _Compared
    arrays: _Arrays
    in_range: bool
    branch: bool | None

    @property
    def centre(self) -> tuple[Array, Array, Array]:
        return self.arrays.centre

    @property
    def bound(self) -> tuple[Array, Array, Array]:
        return self.arrays.bound


@dataclass(frozen=True)
class _Block:
    """What one block of elements contributes to a step's comparison, per quantity (None:
    not read): the largest ratio with the element it is at, and the largest errors in ulps."""

    out: int
    at: tuple[tuple[float, _At] | None, ...]
    result_ulps: tuple[float, ...]
    ulps: tuple[float, ...]
    in_range: bool


def _step(state: tuple[Array, Array, Array], g: Array, bound: tuple[Array, Array, Array],
          observed: Sequence[Array | None], model: _Model, block: int,
          branch: bool | None, arrays: _Arrays) -> _Step:
    """Centre, tolerance and comparison of one step, written into ``arrays`` and evaluated
    block by block: every quantity is elementwise, so the blocks give the same numbers as
    the whole tensor, with the intermediates of a block kept in cache."""
    blocks = [_block(slice(lo, lo + block), state, g, bound, observed, model, arrays.centre,
                     arrays.bound)
              for lo in range(0, state[0].size, max(block, 1))]
    return _Step(_combine(blocks, observed), arrays, all(b.in_range for b in blocks), branch)


def _block(s: slice, state: tuple[Array, Array, Array], g: Array,
           bound: tuple[Array, Array, Array], observed: Sequence[Array | None], model: _Model,
           centre: tuple[Array, Array, Array], total: tuple[Array, Array, Array]) -> _Block:
    """Evaluate the elements ``s``: the fast step and both bounds, written into ``centre``
    and ``total``, and their comparison with the observed values."""
    c, hyper, convention, fmt = model.c, model.hyper, model.convention, model.fmt
    theta, m, v = (x[s] for x in state)
    grad = g[s]
    new = apply_step(theta, m, v, grad, c, hyper, convention)
    terms = step_terms(theta, m, v, grad, c, hyper, convention)
    impl = terms.bound(fmt, model.errors, bound[0][s], bound[1][s], bound[2][s])
    own = terms.bound(FLOAT64, ScheduleErrors.rounded_only(FLOAT64), scale=False)
    for k, (limit, mine) in enumerate(((impl.theta, own.theta), (impl.m, own.m),
                                       (impl.v, own.v))):
        centre[k][s] = new[k]
        np.add(limit, mine, out=total[k][s])
    limits = (total[0][s], total[1][s], total[2][s])
    judgeable = np.isfinite(limits[0]) & np.isfinite(limits[1]) & np.isfinite(limits[2])
    scales = impl.scale or (np.zeros_like(limits[0]),) * 3
    at: list[tuple[float, _At] | None] = []
    result_ulps, ulps = [], []
    for k, (got, limit, size) in enumerate(zip(observed, limits, scales, strict=True)):
        if got is None:
            at.append(None)
            result_ulps.append(0.0)
            ulps.append(0.0)
            continue
        got64, e = element_errors(got[s], centre[k][s], limit, size, judgeable, fmt)
        result_ulps.append(e.worst_result_ulps)
        ulps.append(e.worst_ulps)
        if not e.ratio.size:
            at.append(None)
            continue
        i = int(np.argmax(e.ratio))  # the first element with the largest ratio
        at.append((float(e.ratio[i]),
                   _At(k, s.start + i, float(got64[i]), float(e.error[i]), float(limit[i]),
                       float(e.ulp[i]), float(e.scale_ulp[i]))))
    largest = fmt.largest
    in_range = all(bool((np.abs(x) <= largest).all()) for x in new)
    return _Block(int(np.sum(~judgeable)), tuple(at), tuple(result_ulps), tuple(ulps),
                  in_range)


def _combine(blocks: Sequence[_Block], observed: Sequence[Array | None]) -> _Compared:
    """The comparison of the whole tensor from its blocks': largest error / bound (the
    first element with it, in the order quantity, index), errors in ulps, elements out of
    domain. ``np.max`` and ``np.argmax`` over the blocks' maxima give what they give over
    all elements, NaN included (the first NaN wins)."""
    ratio, ulps, result_ulps = 0.0, 0.0, 0.0
    at = None
    for k, got in enumerate(observed):
        if got is None:
            continue
        result_ulps = max(result_ulps, float(np.max([b.result_ulps[k] for b in blocks],
                                                    initial=0.0)))
        ulps = max(ulps, float(np.max([b.ulps[k] for b in blocks], initial=0.0)))
        found = [x for x in (b.at[k] for b in blocks) if x is not None]
        if not found:
            continue
        maxima = np.array([r for r, _ in found])
        j = int(np.argmax(maxima))
        if at is None or float(np.max(maxima)) > ratio:
            ratio, at = float(maxima[j]), found[j][1]
    return _Compared(ratio, ulps, result_ulps, sum(b.out for b in blocks), at)


def _frozen(values: Array) -> Array:
    """A read-only view of a step's centres or bounds, for the verdict."""
    view = values.view()
    view.flags.writeable = False
    return view


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
