"""Judge large tensors against the fast reference, with the fast reference's own error bounded.

The mpmath judge (:func:`radam_verify.judge.judge_trajectory`) evaluates every element in
exact arithmetic, which costs about 30 microseconds per element and step: right for the
handful of elements most properties draw, too slow for the 10^4 to 10^6 elements that
reach vectorised and multithreaded kernels. Here the centre of the comparison is the fast
reference: for formats narrower than binary64, the step in binary64 with the exact
coefficients each rounded once (:mod:`radam_verify.fast`); for binary64 implementations,
the same step in double-double arithmetic (:mod:`radam_verify.dd`,
:func:`radam_verify.kernel.apply_step_dd`). The tolerance is certified by the triangle
inequality (``derivations/error-model.md``, section 6):

    |impl_{t+1} - fast_{t+1}| <= |impl_{t+1} - E(fast_t)| + |E(fast_t) - fast_{t+1}|

where E is the exact step. The first term is the implementation's error model at the
centre fast_t, with the input bound A_t (how far the implementation's state may be from
fast_t); the second is the fast kernel's own rounding, the same error model for binary64
with exactly rounded scalars, for binary64 or for double-double (``dd.DOUBLE_DOUBLE``,
whose absolute error term applies only to elements where a value of the step lies between
0 and 2^-900, the only ones where its low parts can underflow). Their sum is A_{t+1}.
Every correct implementation satisfies |impl_t - fast_t| <= A_t, so a rejection is sound;
an accepted implementation is within A_t + (the fast path's accumulated error) of exact, a
margin below one part in 10^8 of the bound for float32 and narrower formats (binary64
centre) and below one part in 10^14 for binary64 (double-double centre), plus a few
subnormal units where values are that small. A double-double centre that is not finite
(near the top of binary64's range its error-free transformations overflow) raises
:class:`UncertifiedError`, and the caller judges that tensor with the mpmath judge.

RAdam's step is elementwise: the failing element's exact value is then computed alone, in
mpmath, so a counterexample shows the exact value, not the centre. For the same reason a
step is evaluated in blocks of ``BLOCK`` elements (the fast step, both bounds from the
exact values they share, the comparison), whose intermediates stay in cache; the blocks
give the numbers of the whole tensor, bit for bit. That costs about 0.2 microseconds per
element and step (10^6 float32 elements, on the project's 2-core machine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import numpy.typing as npt

from radam_verify import dd
from radam_verify.coefficients import Coefficients, ExactScalars, exact_scalars
from radam_verify.conventions import Convention
from radam_verify.errors import OutOfDomainError, UncertifiedError
from radam_verify.floats import FLOAT64, Array, Format
from radam_verify.hyper import Hyper
from radam_verify.judge import Judgement, Worst, ambiguous_steps, element_errors
from radam_verify.kernel import FloatArray, apply_step, apply_step_dd
from radam_verify.precision import real
from radam_verify.reference import ExactState, exact_step
from radam_verify.schedule import schedule_step
from radam_verify.tolerance import ScheduleErrors, StepTerms, step_terms

#: tensors with more elements than this are judged here
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
    return size > FAST_ABOVE


def centre_format(fmt: Format) -> Format:
    """The arithmetic of the fast centre for an implementation in ``fmt``: binary64 for
    narrower formats, double-double for binary64 (the centre's own error must be far below
    the implementation's)."""
    return dd.DOUBLE_DOUBLE if fmt.u <= FLOAT64.u else FLOAT64


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
    wide = centre_format(fmt) is dd.DOUBLE_DOUBLE
    low: tuple[Array, Array, Array] | None = (
        (np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)) if wide else None)
    t0 = int(start[3])
    bound = (np.zeros_like(theta),) * 3
    steps = list(range(t0 + 1, t0 + len(grads) + 1))
    band = set(ambiguous_steps(hyper, convention, fmt, steps, schedule))
    worst, worst_ulps, worst_result, out = 0.0, 0.0, 0.0, 0
    branches: list[bool | None] = []
    # step, element, centres (high parts, low parts), bounds
    where: tuple[int, _At, Array, Array | None, Array] | None = None
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
            scalars = exact_scalars(t, hyper, convention, branch)
            arrays = free.pop() if free else _Arrays.empty(theta.size, wide)
            model = _Model(scalars.rounded(), scalars, hyper, convention, fmt, errors)
            step = _step((theta, m, v), low, g, bound, seen, model, block, branch, arrays)
            if best is None or step.compared.ratio < best.compared.ratio:
                if best is not None:
                    free.append(best.arrays)
                best = step
            else:
                free.append(step.arrays)
        assert best is not None
        compared, (theta, m, v), bound = best.compared, best.centre, best.bound
        low = best.arrays.low
        branches.append(best.branch)
        if not best.in_range:
            _require_in_range((theta, m, v), t, fmt)
        if compared.at is not None and (where is None or compared.ratio > worst):
            k = compared.at.quantity
            where = (t, compared.at, (theta, m, v)[k], None if low is None else low[k],
                     bound[k])
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
        t, at, centres, lows, limits = where
        exact = _exact_element(start, grads, branches, at.index, t, hyper, convention,
                               at.quantity)
        detail = Worst(t, _QUANTITIES[at.quantity], at.index, real.nstr(exact, 20),
                       at.observed, at.error, at.bound, at.ulp, at.scale_ulp,
                       _frozen(centres), _frozen(limits), "fast",
                       None if lows is None else _frozen(lows))
    return Judgement(worst <= 1.0, worst, worst_ulps, tuple(sorted(band)), out, detail,
                     worst_result)


@dataclass(frozen=True)
class _Model:
    """What one step is judged with: the branch's exact coefficients (rounded to binary64,
    and unrounded for the double-double centre), the implementation's format and its
    schedule's errors."""

    c: Coefficients
    scalars: ExactScalars
    hyper: Hyper
    convention: Convention
    fmt: Format
    errors: ScheduleErrors


@dataclass(frozen=True)
class _Arrays:
    """Where one step's results go: the fast centre (theta, m, v), its low parts where it
    is double-double (None: binary64), and the tolerance on each."""

    centre: tuple[Array, Array, Array]
    bound: tuple[Array, Array, Array]
    low: tuple[Array, Array, Array] | None = None

    @classmethod
    def empty(cls, n: int, wide: bool = False) -> _Arrays:
        low = (np.empty(n), np.empty(n), np.empty(n)) if wide else None
        return cls((np.empty(n), np.empty(n), np.empty(n)), (np.empty(n), np.empty(n),
                                                              np.empty(n)), low)


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


def _step(state: tuple[Array, Array, Array], low: tuple[Array, Array, Array] | None, g: Array,
          bound: tuple[Array, Array, Array], observed: Sequence[Array | None], model: _Model,
          block: int, branch: bool | None, arrays: _Arrays) -> _Step:
    """Centre, tolerance and comparison of one step, written into ``arrays`` and evaluated
    block by block: every quantity is elementwise, so the blocks give the same numbers as
    the whole tensor, with the intermediates of a block kept in cache."""
    blocks = [_block(slice(lo, lo + block), state, low, g, bound, observed, model, arrays)
              for lo in range(0, state[0].size, max(block, 1))]
    return _Step(_combine(blocks, observed), arrays, all(b.in_range for b in blocks), branch)


def _block(s: slice, state: tuple[Array, Array, Array], low: tuple[Array, Array, Array] | None,
           g: Array, bound: tuple[Array, Array, Array], observed: Sequence[Array | None],
           model: _Model, arrays: _Arrays) -> _Block:
    """Evaluate the elements ``s``: the fast step and both bounds, written into ``arrays``,
    and their comparison with the observed values."""
    c, hyper, convention, fmt = model.c, model.hyper, model.convention, model.fmt
    centre, total = arrays.centre, arrays.bound
    theta, m, v = (x[s] for x in state)
    grad = g[s]
    new: tuple[FloatArray, FloatArray, FloatArray]
    new_low: tuple[Array, Array, Array] | None = None
    wide: tuple[dd.DD, dd.DD, dd.DD] | None = None
    if low is not None:  # double-double: the centre of a binary64 implementation
        wide = apply_step_dd(dd.DD(theta, low[0][s]), dd.DD(m, low[1][s]), dd.DD(v, low[2][s]),
                             grad, model.scalars, hyper, convention)
        new = (wide[0].hi, wide[1].hi, wide[2].hi)
        new_low = (wide[0].lo, wide[1].lo, wide[2].lo)
    else:
        new = apply_step(theta, m, v, grad, c, hyper, convention)
    own_fmt = centre_format(fmt)
    terms = step_terms(theta, m, v, grad, c, hyper, convention)
    impl = terms.bound(fmt, model.errors, bound[0][s], bound[1][s], bound[2][s])
    if new_low is not None:  # double-double: its absolute error only where it underflows
        own_fmt = replace(own_fmt, eta=cast(float, np.where(
            _underflows(terms, new, hyper, convention), own_fmt.eta, 0.0)))
    own = terms.bound(own_fmt, ScheduleErrors.rounded_only(own_fmt), scale=False)
    for k, (limit, mine) in enumerate(((impl.theta, own.theta), (impl.m, own.m),
                                       (impl.v, own.v))):
        centre[k][s] = new[k]
        if new_low is not None and arrays.low is not None:
            arrays.low[k][s] = new_low[k]
        np.add(limit, mine, out=total[k][s])
    limits = (total[0][s], total[1][s], total[2][s])
    judgeable = np.isfinite(limits[0]) & np.isfinite(limits[1]) & np.isfinite(limits[2])
    # a NaN in the centre: where the bound is infinite (an exact value the step's arithmetic
    # cannot hold, e.g. v below binary64's range with eps = 0), nothing is judged there, as
    # in the mpmath judge; elsewhere, and wherever a double-double centre is not finite, it
    # is an overflow inside the double-double operations (dd.certified_elements)
    unknown = np.isnan(new[0]) | np.isnan(new[1]) | np.isnan(new[2])
    if wide is not None:
        unknown |= ~(dd.certified_elements(wide[0]) & dd.certified_elements(wide[1])
                     & dd.certified_elements(wide[2]))
    if bool((unknown & judgeable).any()):
        raise UncertifiedError(f"a fast centre of step t={c.t} is not certified (a "
                               "double-double value near the top of binary64's range)")
    scales = impl.scale or (np.zeros_like(limits[0]),) * 3
    at: list[tuple[float, _At] | None] = []
    result_ulps, ulps = [], []
    for k, (got, limit, size) in enumerate(zip(observed, limits, scales, strict=True)):
        if got is None:
            at.append(None)
            result_ulps.append(0.0)
            ulps.append(0.0)
            continue
        got64, e = element_errors(got[s], centre[k][s], limit, size, judgeable, fmt,
                                  None if arrays.low is None else arrays.low[k][s])
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
    # a double-double centre's NaN where nothing is judged is no value beyond the range
    in_range = all(bool(((np.abs(x) <= largest)
                         | (np.isnan(x) & ~judgeable if new_low is not None else False)).all())
                   for x in new)
    return _Block(int(np.sum(~judgeable)), tuple(at), tuple(result_ulps), tuple(ulps),
                  in_range)


#: below this magnitude a double-double's low part may leave binary64's normal range (the
#: low part of a value x is about 2^-106 x; an error-free product of two operands has parts
#: down to 2^-107 of it): a value between 0 and this may carry dd.ETA_DD absolute error
UNDERFLOW = 2.0**-900


def _underflows(terms: StepTerms, new: Sequence[FloatArray], hyper: Hyper,
                convention: Convention) -> npt.NDArray[np.bool_]:
    """Elements where an operand or a result of the double-double step is nonzero and below
    :data:`UNDERFLOW`: only there may an operation's error exceed its relative bound (an
    operation whose operands and result are 0 or above it underflows nowhere), so only there
    does the centre's bound carry dd.ETA_DD (module docstring of :mod:`radam_verify.dd`)."""
    rec = terms.rec
    with np.errstate(all="ignore"):
        values: list[FloatArray] = [
            terms.theta_abs, terms.m_abs, terms.v, terms.g_abs, terms.g_squared,
            terms.c1_g_abs, rec.one_minus_beta2 * terms.g_squared, rec.beta1 * terms.m_abs,
            rec.beta2 * terms.v, terms.m_stored_abs, terms.v_stored, terms.theta_in,
            terms.update_abs, terms.c.coeff * terms.m_new_abs, *new]
        if convention.weight_decay == "l2" and hyper.weight_decay != 0.0:
            values.append(hyper.weight_decay * terms.theta_abs)
        values += [x for x in (terms.q, terms.root, terms.den) if x is not None]
        out = np.zeros(terms.theta.shape, dtype=bool)
        for x in values:
            magnitude = np.abs(x)
            out |= (magnitude > 0) & (magnitude < UNDERFLOW)
    return out


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
        beyond = np.flatnonzero(np.abs(values) > largest)
        if not beyond.size:
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
