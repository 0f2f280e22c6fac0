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
give the numbers of the whole tensor, bit for bit. A block whose values are all finite
(and, around a double-double centre, none below 2^-900) is evaluated fused: each value the
centre and both bounds share computed once, the checks as reductions over the block, and
sums with terms below half an ulp of every element (the subnormal products of binary64's
eta) left out, since they leave it as it is; any other block is evaluated again, element
by element, as the error model states it. Both give the same numbers. For binary32
implementations, where numba is installed (the ``fast`` extra), the fused evaluation of a
block runs as one compiled loop (:mod:`radam_verify.fused_kernel`: the same operations,
the same numbers), its blocks on every core. ``benchmarks/bench_large.py`` measures what
judging costs against the implementation's own step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import numpy.typing as npt

from radam_verify import dd, fused_kernel
from radam_verify.coefficients import Coefficients, ExactScalars, exact_scalars
from radam_verify.conventions import Convention
from radam_verify.errors import OutOfDomainError, UncertifiedError, UsageError
from radam_verify.floats import FLOAT64, Array, Format
from radam_verify.hyper import Hyper
from radam_verify.judge import (
    QUANTITIES,
    Judgement,
    Worst,
    ambiguous_steps,
    element_errors,
    observed_now,
    step_powers,
)
from radam_verify.kernel import (
    FloatArray,
    apply_step_dd,
    apply_step_dd_max,
    apply_step_max,
    lookahead_sync,
    lookahead_sync_dd,
)
from radam_verify.powers import Powers
from radam_verify.precision import real
from radam_verify.reference import ExactState, exact_step
from radam_verify.schedule import schedule_step
from radam_verify.tolerance import (
    EVALUATION_SLACK,
    K_MOMENT,
    K_SGD,
    K_THETA,
    K_UPDATE,
    ScheduleErrors,
    StepTerms,
    _coeff_without_r,
    root_sum_error,
    step_terms,
)

#: tensors with more elements than this are judged here
FAST_ABOVE = 64
#: elements evaluated together: a block's intermediates (a few dozen arrays) stay in cache
BLOCK = 1 << 15



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
    start: Start,
    grads: Sequence[Array | None],
    hyper: Hyper | Sequence[Hyper],
    convention: Convention,
    fmt: Format,
    *,
    block: int = BLOCK,
    schedule: str = "textbook",
    grad_errors: Sequence[Array | None] | None = None,
) -> Judgement:
    """Compare (theta, m, v) after each step from ``start`` (theta, m, v as the
    implementation holds them, raw moments, and the step count t; then AMSGrad's running
    maximum v_max, zeros if it is not given, and Lookahead's slow weights, theta if they are
    not given, where the reading keeps them) with the certified fast trajectory; the same
    verdict fields as the mpmath judge with raw moments (a step without a gradient, None,
    keeps the state and is not judged). Observations list
    (theta, m, v, v_max, slow) as far as they are read (``judge.QUANTITIES``).
    ``hyper``: the hyperparameters of every step, or of each step (a schedule that sets
    them between steps), as for the mpmath judge.
    ``block``: elements evaluated together (the verdict does not depend on it).
    ``schedule``: the schedule's evaluation allowed, as for the mpmath judge (the share of
    the bound the textbook allowance takes is not computed here: it is reported from the
    tensors the mpmath judge judges). ``grad_errors``: per step, the gradient's error, as
    for the mpmath judge. Lookahead counted per group follows the group's count, which
    is the tensor's only where every step gives it a gradient: other trajectories of such
    a reading are the mpmath judge's (:class:`UsageError` here)."""
    if convention.lookahead_count != "tensor" and any(grad is None for grad in grads):
        raise UsageError(f"{convention.spec}: Lookahead counted per group with a step without "
                         "a gradient is judged by the mpmath judge (judge.judge_trajectory)")
    names = convention.quantities
    n = len(names)
    state = _start(start, names)
    wide = centre_format(fmt) is dd.DOUBLE_DOUBLE
    low: tuple[Array, ...] | None = (
        tuple(np.zeros_like(state[0]) for _ in range(n)) if wide else None)
    t0 = int(start[3])
    bound: tuple[Array, ...] = (np.zeros_like(state[0]),) * n
    # a step without a gradient leaves the tensor's state as it is and is not judged (the
    # mpmath judge's raw layout, judge.judge_trajectory); t counts the steps with one
    errors_of = [None] * len(grads) if grad_errors is None else list(grad_errors)
    given_errors = [a_g for grad, a_g in zip(grads, errors_of, strict=True) if grad is not None]
    each = [hyper] * len(grads) if isinstance(hyper, Hyper) else list(hyper)
    hypers = [h for grad, h in zip(grads, each, strict=True) if grad is not None]
    powers = [p for grad, p in zip(grads, step_powers(t0, each, grads, convention), strict=True)
              if grad is not None]
    stepped = [(grad, obs) for grad, obs in zip(grads, observed, strict=True)
               if grad is not None]
    grads = [grad for grad, _ in stepped]
    steps = list(range(t0 + 1, t0 + len(stepped) + 1))
    band = {t for t, h, p in zip(steps, hypers, powers, strict=True)
            if ambiguous_steps(h, convention, fmt, [t], schedule, p)}
    worst, worst_ulps, worst_result, out = 0.0, 0.0, 0.0, 0
    branches: list[bool | None] = []
    # step, element, centres (high parts, low parts), bounds
    where: tuple[int, _At, Array, Array | None, Array] | None = None
    # each step writes its centres and bounds into six arrays of the tensor's size; sets no
    # longer read are reused (a fresh array costs a page fault per page as it is written)
    free: list[_Arrays] = []
    current: _Arrays | None = None  # the set holding (theta, m, v) and bound
    pinned: _Arrays | None = None  # the set ``where`` refers to
    for t, ((grad, obs), a_g, hyper_t, power) in enumerate(
            zip(stepped, given_errors, hypers, powers, strict=True), start=t0 + 1):
        assert grad is not None
        g = np.asarray(grad, dtype=np.float64).reshape(-1)
        grad_error = None if a_g is None else np.asarray(a_g, dtype=np.float64).reshape(-1)
        given = dict(zip(QUANTITIES, observed_now(obs, convention, t), strict=False))
        seen = tuple(None if given.get(name) is None
                     else np.asarray(given[name], dtype=np.float64).reshape(-1)
                     for name in names)
        sched = schedule_step(t, hyper_t.beta1, hyper_t.beta2, convention, powers=power)
        errors = ScheduleErrors.allowed(schedule, sched, hyper_t, fmt)
        # inside the band either branch is legitimate: follow the one the implementation took
        best: _Step | None = None
        for branch in ([False, True] if t in band else [None]):
            scalars = exact_scalars(t, hyper_t, convention, branch, power)
            arrays = free.pop() if free else _Arrays.empty(state[0].size, wide, n)
            model = _Model(scalars.rounded(), scalars, hyper_t, convention, fmt, errors,
                           grad_error)
            step = _step(state, low, g, bound, seen, model, block, branch, arrays)
            if best is None or step.compared.ratio < best.compared.ratio:
                if best is not None:
                    free.append(best.arrays)
                best = step
            else:
                free.append(step.arrays)
        assert best is not None
        compared, state, bound = best.compared, best.centre, best.bound
        low = best.arrays.low
        branches.append(best.branch)
        if not best.in_range:
            _require_in_range(state, t, fmt, names)
        if compared.at is not None and (where is None or compared.ratio > worst):
            k = compared.at.quantity
            where = (t, compared.at, state[k], None if low is None else low[k], bound[k])
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
        exact = (_exact_element(start, grads, branches, at.index, t, hypers, powers,
                                convention, at.quantity) if not convention.is_lamb
                 else _exact_lamb_element(start, grads, at.index, t, hypers, powers,
                                          convention, at.quantity, centres, lows))
        detail = Worst(t, names[at.quantity], at.index, real.nstr(exact, 20),
                       at.observed, at.error, at.bound, at.ulp, at.scale_ulp,
                       _frozen(centres), _frozen(limits), "fast",
                       None if lows is None else _frozen(lows))
    return Judgement(worst <= 1.0, worst, worst_ulps, tuple(sorted(band)), out, detail,
                     worst_result)


#: where a trajectory starts: (theta, m, v) as the implementation holds them (raw moments),
#: the step count t, then AMSGrad's running maximum (None: zeros) and Lookahead's slow
#: weights (None: theta), where given
Start = (tuple[Array, Array, Array, int] | tuple[Array, Array, Array, int, Array | None]
         | tuple[Array, Array, Array, int, Array | None, Array | None])


def _start(start: Start, names: Sequence[str]) -> tuple[Array, ...]:
    """The state a judgement starts from as float64 arrays, one per quantity of ``names``."""
    theta, m, v = (np.asarray(x, dtype=np.float64).reshape(-1) for x in start[:3])
    extras = (*start[4:], None, None)[:2]
    given = {"v_max": extras[0], "slow": extras[1]}
    default = {"v_max": np.zeros_like(theta), "slow": theta.copy()}
    return (theta, m, v, *(
        default[name] if given[name] is None
        else np.asarray(given[name], dtype=np.float64).reshape(-1) for name in names[3:]))


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
    #: the gradient's error per element (LAMB's global clipping); None: used as given
    grad_error: Array | None = None


@dataclass(frozen=True)
class _Arrays:
    """Where one step's results go: the fast centre (theta, m, v), its low parts where it
    is double-double (None: binary64), and the tolerance on each."""

    centre: tuple[Array, ...]
    bound: tuple[Array, ...]
    low: tuple[Array, ...] | None = None

    @classmethod
    def empty(cls, n: int, wide: bool = False, quantities: int = 3) -> _Arrays:
        """Arrays for ``n`` elements of ``quantities`` quantities (4: AMSGrad's v_max)."""
        def fresh() -> tuple[Array, ...]:
            return tuple(np.empty(n) for _ in range(quantities))

        return cls(fresh(), fresh(), fresh() if wide else None)


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
    def centre(self) -> tuple[Array, ...]:
        return self.arrays.centre

    @property
    def bound(self) -> tuple[Array, ...]:
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


def _step(state: tuple[Array, ...], low: tuple[Array, ...] | None, g: Array,
          bound: tuple[Array, ...], observed: Sequence[Array | None], model: _Model,
          block: int, branch: bool | None, arrays: _Arrays) -> _Step:
    """Centre, tolerance and comparison of one step, written into ``arrays`` and evaluated
    block by block: every quantity is elementwise, so the blocks give the same numbers as
    the whole tensor, with the intermediates of a block kept in cache."""
    if model.convention.is_lamb:  # LAMB's norms read the whole tensor: one block
        block = state[0].size
    starts = range(0, state[0].size, max(block, 1))
    compiled = (fused_kernel.judges(model.fmt, len(state), low is not None,
                                    model.convention.is_lamb) and block <= fused_kernel.BLOCK_MAX)

    def one(lo: int) -> _Block:
        return _block(slice(lo, lo + block), state, low, g, bound, observed, model, arrays,
                      compiled)

    # the compiled loop releases the GIL: its blocks run on every core (they write
    # disjoint slices, and the blocks' results are combined in order)
    if compiled:
        fused_kernel.compiled()  # compiled (or loaded) once, before the threads use it
    blocks = (list(fused_kernel.pool().map(one, starts)) if compiled and len(starts) > 1
              else [one(lo) for lo in starts])
    return _Step(_combine(blocks, observed), arrays, all(b.in_range for b in blocks), branch)


def _block(s: slice, state: tuple[Array, ...], low: tuple[Array, ...] | None,
           g: Array, bound: tuple[Array, ...], observed: Sequence[Array | None],
           model: _Model, arrays: _Arrays, compiled: bool = False) -> _Block:
    """Evaluate the elements ``s``: the fast step and both bounds, written into ``arrays``,
    and their comparison with the observed values. The fused evaluation
    (:func:`_fused_block`; ``compiled``: first by the compiled loop, where
    :func:`fused_kernel.judges` the block) gives the numbers of :func:`_reference_block`
    where every value is finite and nothing underflows; a block where it cannot tell is
    evaluated again by the reference (which alone carries AMSGrad's running maximum and
    Lookahead's slow weights)."""
    if len(state) == 3 and not model.convention.is_lamb and model.grad_error is None:
        if compiled:
            judged = _compiled_block(s, state, g, bound, observed, model, arrays)
            if judged is not None:
                return judged
        fused = _fused_block(s, state, low, g, bound, observed, model, arrays)
        if fused is not None:
            return fused
    return _reference_block(s, state, low, g, bound, observed, model, arrays)


def _reference_block(s: slice, state: tuple[Array, ...],
                     low: tuple[Array, ...] | None, g: Array,
                     bound: tuple[Array, ...], observed: Sequence[Array | None],
                     model: _Model, arrays: _Arrays) -> _Block:
    """:func:`_block` from the error model's own evaluation (:func:`tolerance.step_terms`,
    ``StepTerms.bound``), every element, every case (non-finite values, underflow)."""
    c, hyper, convention, fmt = model.c, model.hyper, model.convention, model.fmt
    centre, total = arrays.centre, arrays.bound
    names = convention.quantities
    index = {name: k for k, name in enumerate(names)}
    n = len(state)
    theta, m, v = (x[s] for x in state[:3])
    v_max = state[index["v_max"]][s] if "v_max" in index else None
    slow = state[index["slow"]][s] if "slow" in index else None
    grad = g[s]
    new: tuple[FloatArray, ...]
    new_low: tuple[Array, ...] | None = None
    wide: tuple[dd.DD, ...] | None = None
    if low is not None:  # double-double: the centre of a binary64 implementation
        held = dd.DD(v_max, low[index["v_max"]][s]) if v_max is not None else None
        stepped = apply_step_dd_max(dd.DD(theta, low[0][s]), dd.DD(m, low[1][s]),
                                    dd.DD(v, low[2][s]), held, grad, model.scalars, hyper,
                                    convention)
        wide = tuple(x for x in stepped if x is not None)
        if slow is not None:
            synced, phi = lookahead_sync_dd(wide[0], dd.DD(slow, low[index["slow"]][s]), c.t,
                                            convention)
            wide = (synced, *wide[1:], phi)
        new = tuple(x.hi for x in wide)
        new_low = tuple(x.lo for x in wide)
    else:
        new = tuple(x for x in apply_step_max(theta, m, v, v_max, grad, c, hyper, convention)
                    if x is not None)
        if slow is not None:
            synced64, phi64 = lookahead_sync(new[0], slow, c.t, convention)
            new = (synced64, *new[1:], phi64)
    own_fmt = centre_format(fmt)
    terms = step_terms(theta, m, v, grad, c, hyper, convention, v_max=v_max, slow=slow)
    impl = terms.bound(fmt, model.errors, bound[0][s], bound[1][s], bound[2][s],
                       a_vmax=bound[index["v_max"]][s] if v_max is not None else 0.0,
                       a_slow=bound[index["slow"]][s] if slow is not None else 0.0,
                       a_g=0.0 if model.grad_error is None else model.grad_error[s])
    if new_low is not None:  # double-double: its absolute error only where it underflows
        own_fmt = replace(own_fmt, eta=cast(float, np.where(
            _underflows(terms, new, hyper, convention), own_fmt.eta, 0.0)))
    own = terms.bound(own_fmt, ScheduleErrors.rounded_only(own_fmt), scale=False)
    for k, (limit, mine) in enumerate(zip(impl.quantities(), own.quantities(), strict=True)):
        centre[k][s] = new[k]
        if new_low is not None and arrays.low is not None:
            arrays.low[k][s] = new_low[k]
        np.add(limit, mine, out=total[k][s])
    limits = tuple(x[s] for x in total)
    judgeable = np.isfinite(limits[0])
    for limit in limits[1:]:
        judgeable &= np.isfinite(limit)
    # a NaN in the centre: where the bound is infinite (an exact value the step's arithmetic
    # cannot hold, e.g. v below binary64's range with eps = 0), nothing is judged there, as
    # in the mpmath judge; elsewhere, and wherever a double-double centre is not finite, it
    # is an overflow inside the double-double operations (dd.certified_elements)
    unknown = np.zeros(theta.shape, dtype=bool)
    for x in new:
        unknown |= np.isnan(x)
    if wide is not None:
        for y in wide:
            unknown |= ~dd.certified_elements(y)
    if bool((unknown & judgeable).any()):
        raise UncertifiedError(f"a fast centre of step t={c.t} is not certified (a "
                               "double-double value near the top of binary64's range)")
    scales = impl.scale or (np.zeros_like(limits[0]),) * n
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
    # a centre's NaN where nothing is judged (an exact value the step's arithmetic cannot
    # hold, e.g. v below binary64's range with eps = 0) is no value beyond the range
    in_range = all(bool(((np.abs(x) <= largest) | (np.isnan(x) & ~judgeable)).all())
                   for x in new)
    return _Block(int(np.sum(~judgeable)), tuple(at), tuple(result_ulps), tuple(ulps),
                  in_range)


class _Terms:
    """The exact values one step combines (:class:`tolerance.StepTerms` for raw moments),
    each computed once for the fast centre and both bounds, by the same operations in the
    same order as :func:`tolerance.step_terms` and :func:`radam_verify.kernel.apply_step`:
    where the two name the same value (the new m, the update), it is one array here.
    ``out``: where the binary64 centre (theta, m, v) goes (None: a double-double centre,
    computed apart); its new m and, unless rectified, its new theta are computed there."""

    def __init__(self, theta: Array, m: Array, v: Array, grad: Array, c: Coefficients,
                 hyper: Hyper, convention: Convention,
                 out: tuple[Array, Array, Array] | None) -> None:
        b1, b2, wd = hyper.beta1, hyper.beta2, hyper.weight_decay
        c1, c2 = 1 - hyper.beta1, 1 - hyper.beta2
        self.v = v
        self.l2 = convention.weight_decay == "l2" and wd != 0.0
        self.theta_abs = np.abs(theta)
        g = -grad if hyper.maximize else grad
        if self.l2:
            g = g + wd * theta
        self.g_abs = np.abs(g)
        self.m_abs = np.abs(m)
        # b1 m + (1 - b1) g: apply_step's new m and the terms' stored (and raw) moment
        self.m_new = np.multiply(b1, m, out=None if out is None else out[1])
        self.m_new += c1 * g
        self.m_new_abs = np.abs(self.m_new)
        self.c1_g_abs = c1 * self.g_abs
        self.g_squared = g * g
        # (1 - b2) g g as the terms group it, ((1 - b2) g) g; apply_step's is (1 - b2) (g g)
        self.c2_g_g = c2 * g
        self.c2_g_g *= g
        self.b2_v = b2 * v
        self.v_stored = self.b2_v + self.c2_g_g
        self.c2_g_squared = c2 * self.g_squared  # (1 - b2) (g g): apply_step and the bounds
        self.theta_in = theta if c.decay is None else c.decay * theta
        self.q: Array | None = None
        self.root: Array | None = None
        self.den: Array | None = None
        self.coeff_m: Array | None = None
        if c.rectified:
            self.q = self.v_stored if convention.eps == "raw" else self.v_stored * c.inv_bc2
            if convention.eps_root:  # inside the root: sqrt(q + eps_root)
                self.q = self.q + convention.root_offset
            self.root = np.sqrt(self.q)
            self.den = self.root + hyper.eps
            self.coeff_m = c.coeff * self.m_new
            update = self.coeff_m / self.den
        elif c.updates:
            update = self.coeff_m = c.coeff * self.m_new
        else:
            update = np.zeros_like(self.m_new)
        self.update_abs = np.abs(update)
        theta_out = None if out is None or c.rectified else out[0]
        self.theta_new = np.subtract(self.theta_in, update, out=theta_out)
        self.theta_new_abs = np.abs(self.theta_new)
        self.results_abs = self.theta_new_abs + self.update_abs
        # v >= 0 without -0 (min > 0): |v| is v, and |v_stored| is v_stored
        least = float(np.min(v, initial=np.inf))
        self.v_nonnegative = least >= 0
        positive = least > 0
        self.v_abs = v if positive else np.abs(v)
        self.v_stored_abs = self.v_stored if positive else np.abs(self.v_stored)
        self._largest: dict[int, float] = {}

    def largest(self, x: Array) -> float:
        """The block's largest element of ``x`` (NaN if one is NaN), computed once."""
        key = id(x)
        if key not in self._largest:
            self._largest[key] = float(np.max(x, initial=-np.inf))
        return self._largest[key]

    def centre(self, out: tuple[Array, Array, Array], c: Coefficients, hyper: Hyper,
               convention: Convention) -> None:
        """The rest of apply_step's new (theta, m, v) in binary64, written into ``out``
        (the new m and, unless rectified, theta are there already)."""
        np.add(self.b2_v, self.c2_g_squared, out=out[2])
        if c.rectified:
            assert self.coeff_m is not None
            v = out[2]
            q = v * c.inv_bc2 if convention.eps == "hat" else v.copy()
            if convention.eps_root:
                q += convention.root_offset
            root = np.sqrt(q, out=q)
            root += hyper.eps
            np.divide(self.coeff_m, root, out=root)
            np.subtract(self.theta_in, root, out=out[0])

    def scales(self) -> tuple[Array, Array, Array]:
        """StepTerms.scales: the operand scale of theta, m and v."""
        size_theta = np.fmax(self.theta_abs, self.update_abs)
        size_m = np.fmax(self.m_abs, self.c1_g_abs)
        size_v = np.fmax(self.v_abs, self.c2_g_g)
        np.fmax(size_theta, self.theta_new_abs, out=size_theta)
        np.fmax(size_m, self.m_new_abs, out=size_m)
        np.fmax(size_v, self.v_stored_abs, out=size_v)
        return size_theta, size_m, size_v


#: an addend at most this times the block's smallest x (itself at least :data:`_NORMAL`)
#: is below half an ulp of every x (x 2^-54 < ulp(x) / 2 for a normal x): the sum is x
_NEGLIGIBLE = 2.0**-55
_NORMAL = 2.0**-1000


def _negligible(x: Array, *addends: float) -> bool:
    """Whether adding, one after the other, values each between 0 and one of ``addends``
    (upper bounds, NaN: unknown) to x leaves every element of x as it is (module-level
    constants; a sum equal to x is skipped, so that the products the addends are, often
    subnormal with binary64's eta and tens of times slower than normal ones, are not
    formed)."""
    least = float(np.min(x, initial=np.inf))
    if not least >= _NORMAL:
        return False
    return all(a <= least * _NEGLIGIBLE for a in addends)


def _add_product(x: Array, factor: float, y: Array) -> None:
    """x += factor * y in place (``factor`` >= 0), skipped where :func:`_negligible`."""
    if not _negligible(x, factor * float(np.max(y, initial=-np.inf))):
        x += factor * y


def _fused_bound(t: _Terms, fmt: Format, eta: float, errors: ScheduleErrors,
                 a: tuple[Array, Array, Array] | None, c: Coefficients, hyper: Hyper,
                 convention: Convention) -> tuple[Array, Array, Array] | None:
    """``StepTerms.bound`` for raw moments with a scalar ``eta`` and the input bounds ``a``
    (None: zero): the same operations in the same order, except those whose result is
    exactly their operand: a sum with 0 (every term is 0 or positive), a sum with a term
    below half an ulp of every element (:func:`_negligible`), and a product with a zero
    error of the gradient (e_g where there is no L2 term) or with a zero ``eta`` (the
    double-double centre's own bound where nothing underflows). Such a product is 0
    except where its other factor is not finite; the implementation's bound (``eta`` > 0)
    then has a term that is not finite either, the caller finds the sum of the two bounds
    not finite and evaluates the block with the reference. Returns the (theta, m, v)
    bounds, the evaluation slack applied; None where a rectified step's root or slack is
    not positive everywhere (the reference evaluates the block)."""
    u, gam = fmt.u, fmt.gamma
    b1, b2, wd = hyper.beta1, hyper.beta2, hyper.weight_decay
    c1, c2 = 1 - hyper.beta1, 1 - hyper.beta2
    zero = eta == 0.0
    top = t.largest
    theta_abs_in = t.theta_abs
    if a is not None and (t.l2 or c.decay is not None):
        theta_abs_in = t.theta_abs + a[0]
    e_g: Array | None = None
    if t.l2:
        e_g = gam(2) * (t.g_abs + 2 * wd * theta_abs_in)
        if a is not None:
            e_g += wd * a[0]
        if not zero:
            e_g += eta
    m_abs_in = t.m_abs if a is None else t.m_abs + a[1]
    inner = m_abs_in + t.c1_g_abs
    inner += t.m_new_abs
    inner *= gam(K_MOMENT)
    if a is None:
        e_m = inner if e_g is None else c1 * e_g + inner
    else:
        e_m = b1 * a[1]
        if e_g is not None:
            e_m += c1 * e_g
        e_m += inner
    if not zero:
        # an upper bound on m_abs_in + g_abs (rounding is monotone), NaN if unknown
        y = top(t.m_abs) if a is None else top(t.m_abs) + top(a[1])
        y += top(t.g_abs)
        if not _negligible(e_m, 3 * eta, eta * y):
            e_m += 3 * eta
            x = m_abs_in + t.g_abs
            x *= eta
            e_m += x
    v_in = t.v if a is None else t.v + a[2]
    if e_g is None:
        inner = v_in + t.c2_g_squared
        inner += t.v_stored
        inner *= gam(K_MOMENT)
        if a is None:
            e_v = inner
        else:
            e_v = b2 * a[2]
            e_v += inner
    else:
        g_e = 2 * t.g_abs * e_g
        x = g_e + np.square(e_g)
        x *= c2
        inner = t.g_squared + g_e
        inner *= c2
        inner += v_in
        inner += t.v_stored
        inner *= gam(K_MOMENT)
        if a is None:
            e_v = x + inner
        else:
            e_v = b2 * a[2]
            e_v += x
            e_v += inner
    if not zero:
        # an upper bound on v_in + g g, which is not negative where v is not
        y = top(t.v) if a is None else top(t.v) + top(a[2])
        g_top = top(t.g_abs)
        y = y + g_top * g_top if t.v_nonnegative else np.nan
        if not _negligible(e_v, 4 * eta, eta * y):
            e_v += 4 * eta
            x = v_in + t.g_squared
            x *= eta
            e_v += x
    e_theta: Array | None = None if a is None else a[0]
    if c.decay is not None:
        decay = abs(c.decay)
        x = ((gam(2) + errors.schedule_u * (1 + 2 * hyper.lr * wd) / max(decay, 1e-300))
             * decay) * theta_abs_in
        e_theta = x if a is None else decay * a[0] + x
        if convention.weight_decay == "merged":  # lr (u + wd theta): 3 roundings
            e_theta += gam(3) * hyper.lr * wd * theta_abs_in
        if not zero:
            e_theta += eta
    coeff_rel = errors.scalar_rel + errors.bc1_rel
    if c.rectified:
        assert t.q is not None
        assert t.root is not None
        assert t.den is not None
        if convention.eps == "raw":
            e_q = e_v
            coeff_rel += errors.bc2_rel / 2
        else:
            e_q = e_v * c.inv_bc2
            e_q += (gam(2) + errors.bc2_rel) * t.q
            if not zero:
                e_q += eta
        if convention.eps_root:
            e_q = root_sum_error(e_q, t.q, u, errors.eps_rel, convention.root_offset)
        if not float(np.min(t.root, initial=np.inf)) > 0:
            return None
        e_root = np.fmin(e_q / t.root, np.sqrt(e_q))
        e_root += u * t.root
        if not zero:
            e_root += eta
        e_den = u * t.den
        e_den += e_root
        e_den += (u + errors.eps_rel) * hyper.eps
        if not zero:
            e_den += eta
        slack = t.den - e_den
        if not float(np.min(slack, initial=np.inf)) > 0:
            return None
        base = c.coeff / c.r_t if c.r_t > 0 else _coeff_without_r(c, hyper, convention)
        x = e_den / t.den
        x *= t.m_new_abs
        x /= slack
        e_update = e_m / slack
        e_update += x
        e_update *= c.coeff
        e_update += t.update_abs * (gam(K_UPDATE) + coeff_rel)
        x = (base * (1 + coeff_rel)) * t.m_new_abs
        x /= slack
        x *= errors.r_error(c.r_t)
        e_update += x
        # with a zero eta these two are kept: 0 times a quotient by a tiny slack is NaN
        x = 1 / slack
        x += 1
        _add_product(e_update, K_UPDATE * eta * (1 + c.coeff), x)
        _add_product(e_update, eta + errors.coeff_eta, t.m_new_abs / slack)
    elif c.updates:
        e_update = c.coeff * e_m
        e_update += t.update_abs * (gam(K_SGD) + coeff_rel)
        if not zero and not _negligible(e_update, K_SGD * eta * max(1.0, c.coeff),
                                        eta * top(t.m_new_abs)):
            e_update += K_SGD * eta * max(1.0, c.coeff)
            e_update += eta * t.m_new_abs
        if errors.coeff_eta:  # the coefficient formed in binary32 may underflow there
            e_update += errors.coeff_eta * t.m_new_abs
    else:
        e_update = np.zeros_like(t.m_new)
    e_theta = e_update if e_theta is None else e_theta + e_update
    e_theta += gam(K_THETA) * t.results_abs
    if not zero and not _negligible(e_theta, eta):
        e_theta += eta
    e_theta *= EVALUATION_SLACK
    e_m *= EVALUATION_SLACK
    e_v *= EVALUATION_SLACK
    return e_theta, e_m, e_v


def _fused_block(s: slice, state: tuple[Array, ...],
                 low: tuple[Array, ...] | None, g: Array,
                 bound: tuple[Array, ...], observed: Sequence[Array | None],
                 model: _Model, arrays: _Arrays) -> _Block | None:
    """:func:`_reference_block` where every centre, bound and observed value of the block
    is finite, every bound positive and, for a double-double centre, no value of the step
    below :data:`UNDERFLOW`: the shared values computed once, both bounds by
    :func:`_fused_bound`, the checks as reductions over the block. None where a condition
    does not hold (the reference evaluates the block then)."""
    c, hyper, convention, fmt = model.c, model.hyper, model.convention, model.fmt
    if not fmt.eta > 0:
        return None
    centre = (arrays.centre[0][s], arrays.centre[1][s], arrays.centre[2][s])
    total = (arrays.bound[0][s], arrays.bound[1][s], arrays.bound[2][s])
    theta, m, v = (x[s] for x in state)
    with np.errstate(all="ignore"):
        t = _Terms(theta, m, v, g[s], c, hyper, convention, centre if low is None else None)
        own_fmt, own_eta = FLOAT64, FLOAT64.eta
        if low is not None:  # double-double: the centre of a binary64 implementation
            assert arrays.low is not None
            wide = apply_step_dd(dd.DD(theta, low[0][s]), dd.DD(m, low[1][s]),
                                 dd.DD(v, low[2][s]), g[s], model.scalars, hyper, convention)
            for k in range(3):
                np.copyto(centre[k], wide[k].hi)
                np.copyto(arrays.low[k][s], wide[k].lo)
                if not np.isfinite(float(np.sum(wide[k].lo))):
                    return None
            own_fmt, own_eta = dd.DOUBLE_DOUBLE, 0.0
        else:
            t.centre(centre, c, hyper, convention)
        # the binary64 centre's theta is the terms' new theta unless rectified (its root is
        # taken of apply_step's v, (1 - b2) (g g), not of the terms' ((1 - b2) g) g)
        same = low is None and not c.rectified
        centre_abs = (t.theta_new_abs if same else np.abs(centre[0]),
                      t.m_new_abs if low is None else np.abs(centre[1]),
                      np.abs(centre[2]))
        largest = fmt.largest
        in_range = True
        for x in centre_abs:
            top = float(np.max(x, initial=0.0))
            if not np.isfinite(top):
                return None
            in_range = in_range and top <= largest
        if low is not None and _may_underflow(t, centre_abs, c, hyper):
            return None
        scales = t.scales()
        impl = _fused_bound(t, fmt, fmt.eta, model.errors, (bound[0][s], bound[1][s],
                                                            bound[2][s]), c, hyper, convention)
        own = _fused_bound(t, own_fmt, own_eta, ScheduleErrors.rounded_only(own_fmt), None, c,
                           hyper, convention)
        if impl is None or own is None:
            return None
        positive = True
        for k in range(3):
            np.add(impl[k], own[k], out=total[k])
            if not np.isfinite(float(np.sum(total[k]))):
                return None
            positive = positive and float(np.min(total[k], initial=np.inf)) > 0
        at: list[tuple[float, _At] | None] = []
        result_ulps, ulps = [], []
        for k, (got, limit, size) in enumerate(zip(observed, total, scales, strict=True)):
            if got is None:
                at.append(None)
                result_ulps.append(0.0)
                ulps.append(0.0)
                continue
            low_k = None if arrays.low is None else arrays.low[k][s]
            compared = _compare(got[s], centre[k], low_k, centre_abs[k], limit, size, fmt) \
                if positive else None
            if compared is None:  # an observed value not finite, or a bound of 0
                got64, e = element_errors(got[s], centre[k], limit, size,
                                          np.ones(limit.shape, dtype=bool), fmt, low_k)
                compared = (got64, e.error, e.ratio, e.ulp, e.scale_ulp, e.worst_result_ulps,
                            e.worst_ulps)
            got64, error, ratio, ulp, scale_ulp, worst_result, worst = compared
            result_ulps.append(worst_result)
            ulps.append(worst)
            if not ratio.size:
                at.append(None)
                continue
            i = int(np.argmax(ratio))  # the first element with the largest ratio
            at.append((float(ratio[i]),
                       _At(k, s.start + i, float(got64[i]), float(error[i]), float(limit[i]),
                           float(ulp[i]), float(scale_ulp[i]))))
    return _Block(0, tuple(at), tuple(result_ulps), tuple(ulps), in_range)


def _kernel_scalars(model: _Model) -> tuple[fused_kernel.StepScalars,
                                             fused_kernel.BoundScalars,
                                             fused_kernel.BoundScalars]:
    """The scalars :func:`fused_kernel._judge_block` reads, formed as :func:`_fused_bound`
    and :class:`_Terms` form them: the step's, the implementation's bound's (its format,
    eta and schedule errors) and the binary64 centre's own bound's."""
    c, hyper, convention = model.c, model.hyper, model.convention
    wd = hyper.weight_decay
    raw = convention.eps == "raw"

    def bound(fmt: Format, eta: float, errors: ScheduleErrors) -> fused_kernel.BoundScalars:
        gam = fmt.gamma
        decay_term = merged_term = 0.0
        if c.decay is not None:
            decay = abs(c.decay)
            decay_term = ((gam(2) + errors.schedule_u * (1 + 2 * hyper.lr * wd)
                           / max(decay, 1e-300)) * decay)
            merged_term = gam(3) * hyper.lr * wd
        coeff_rel = errors.scalar_rel + errors.bc1_rel
        if c.rectified and raw:
            coeff_rel += errors.bc2_rel / 2
        base = c.coeff / c.r_t if c.r_t > 0 else _coeff_without_r(c, hyper, convention)
        slack_term = K_UPDATE * eta * (1 + c.coeff)
        quotient_term = eta + errors.coeff_eta
        room = fused_kernel.room
        return fused_kernel.BoundScalars(
            u=fmt.u, gam2=gam(2), gam_moment=gam(K_MOMENT), gam_theta=gam(K_THETA), eta=eta,
            eta3=3 * eta,
            eta4=4 * eta, decay_term=decay_term, merged_term=merged_term,
            hat_term=gam(2) + errors.bc2_rel, root_term=(fmt.u + errors.eps_rel) * hyper.eps,
            root_sum_term=(fmt.u + errors.eps_rel) * (1 + fmt.u) * convention.root_offset,
            update_term=(gam(K_UPDATE) if c.rectified else gam(K_SGD)) + coeff_rel,
            base_term=base * (1 + coeff_rel), r_error=errors.r_error(c.r_t),
            slack_term=slack_term, quotient_term=quotient_term,
            sgd_eta=K_SGD * eta * max(1.0, c.coeff), coeff_eta=errors.coeff_eta,
            eta_room=room(eta), slack_room=room(slack_term),
            quotient_room=room(quotient_term), coeff_eta_room=room(errors.coeff_eta))

    step = fused_kernel.StepScalars(
        beta1=hyper.beta1, beta2=hyper.beta2, one_minus_beta1=1 - hyper.beta1,
        one_minus_beta2=1 - hyper.beta2, weight_decay=wd, two_weight_decay=2 * wd,
        eps=hyper.eps, eps_root=convention.root_offset, coeff=c.coeff, inv_bc2=c.inv_bc2,
        decay=1.0 if c.decay is None else c.decay,
        decay_abs=1.0 if c.decay is None else abs(c.decay), maximize=hyper.maximize,
        l2=convention.weight_decay == "l2" and wd != 0.0, decays=c.decay is not None,
        merged=convention.weight_decay == "merged", rectified=c.rectified,
        updates=c.updates, raw=raw, rooted=bool(convention.eps_root),
        largest=model.fmt.largest)
    return (step, bound(model.fmt, model.fmt.eta, model.errors),
            bound(FLOAT64, FLOAT64.eta, ScheduleErrors.rounded_only(FLOAT64)))



def _compiled_block(s: slice, state: tuple[Array, ...], g: Array, bound: tuple[Array, ...],
                    observed: Sequence[Array | None], model: _Model,
                    arrays: _Arrays) -> _Block | None:
    """:func:`_fused_block` by the compiled loop (:mod:`radam_verify.fused_kernel`), for a
    binary64 centre: the same numbers; None where it leaves the block to the numpy path."""
    step, impl, own = _kernel_scalars(model)
    n = state[0][s].size
    # the loop reads every quantity (a quantity not read back is compared with zeros, and
    # its comparison is not used) and writes each element's ratios
    got = [fused_kernel.ZEROS[:n] if x is None else x[s] for x in observed]
    read = np.array([x is not None for x in observed])
    result = np.empty((4, 9))
    ratios = fused_kernel.scratch()
    done = fused_kernel.compiled()(
        state[0][s], state[1][s], state[2][s], g[s], bound[0][s], bound[1][s], bound[2][s],
        got[0], got[1], got[2], read, step, impl, own, arrays.centre[0][s],
        arrays.centre[1][s], arrays.centre[2][s], arrays.bound[0][s], arrays.bound[1][s],
        arrays.bound[2][s], ratios[0][:n], ratios[1][:n], ratios[2][:n], result)
    if not done:
        return None
    at: list[tuple[float, _At] | None] = []
    for k in range(3):
        row = result[k]
        at.append(None if not read[k] else (float(row[0]), _At(
            k, s.start + int(row[1]), float(row[2]), float(row[3]), float(row[4]),
            float(row[5]), float(row[6]))))
    return _Block(0, tuple(at), tuple(float(result[k, 7]) if read[k] else 0.0
                                      for k in range(3)),
                  tuple(float(result[k, 8]) if read[k] else 0.0 for k in range(3)),
                  bool(result[3, 0]))


def _compare(got: Array, want: Array, want_low: Array | None, want_abs: Array, limit: Array,
             size: Array, fmt: Format
             ) -> tuple[Array, Array, Array, Array, Array, float, float] | None:
    """judge.element_errors where every bound is finite and positive, for a block whose
    observed values are all finite (None where one is not: ``element_errors`` then), with
    ``want_abs`` = |want| given: (observed as float64, error, ratio, ulp at the result, ulp
    at the operand scale, the largest errors in ulps of each)."""
    got64 = np.asarray(got, dtype=np.float64)
    err = got64 - want
    if want_low is not None:  # got - hi is exact near the centre (Sterbenz)
        err -= want_low
    np.abs(err, out=err)
    ratio = err / limit
    if not np.isfinite(float(np.max(ratio, initial=0.0))):
        return None
    scale = np.abs(got64)
    np.maximum(want_abs, scale, out=scale)
    ulp = _ulp(fmt, scale)
    at_scale = _ulp(fmt, np.fmax(size, scale))
    result = err / ulp
    in_scale = err / at_scale
    return (got64, err, ratio, ulp, at_scale, float(np.max(result, initial=0.0)),
            float(np.max(in_scale, initial=0.0)))


def _ulp(fmt: Format, scale: Array) -> Array:
    """``fmt.ulp(scale)`` for a ``scale`` of non-negative values: for binary32 and binary64,
    the next number up minus the value, from the bits (np.spacing's value on non-negative
    numbers, NaN at inf and NaN)."""
    kind = np.dtype(fmt.numpy_type)
    if kind == np.float64:
        up = scale.view(np.int64) + 1
        difference: Array = up.view(np.float64) - scale
        return difference
    if kind == np.float32:
        typed = scale.astype(np.float32)
        up32 = typed.view(np.int32) + 1
        spacing = up32.view(np.float32)
        spacing -= typed
        return spacing.astype(np.float64)
    return fmt.ulp(scale)


def _may_underflow(t: _Terms, centre_abs: Sequence[Array], c: Coefficients,
                   hyper: Hyper) -> bool:
    """False where no value :func:`_underflows` reads is nonzero and below
    :data:`UNDERFLOW` anywhere in the block (its mask is then all False), True where one
    may be. A product fl(s x) with a scalar s is at least UNDERFLOW wherever x is at least
    2 UNDERFLOW / |s|, so its factor's smallest nonzero magnitude tells."""
    nonzero: dict[int, float] = {}

    def smallest(x: Array) -> float:
        """The smallest nonzero |x| (x >= 0 or NaN), inf where every element is 0."""
        key = id(x)
        if key not in nonzero:
            least = float(np.min(x, initial=np.inf))
            if least == 0.0:
                least = float(np.min(x, where=x > 0, initial=np.inf))
            nonzero[key] = least
        return nonzero[key]

    def clear(x: Array, factor: float = 1.0) -> bool:
        least = smallest(x)
        if factor == 1.0:
            return least >= UNDERFLOW
        return factor == 0.0 or least >= 2 * UNDERFLOW / abs(factor)

    b1, b2, wd = hyper.beta1, hyper.beta2, hyper.weight_decay
    checks = [clear(t.theta_abs), clear(t.m_abs), clear(t.v_abs), clear(t.g_abs),
              clear(t.g_squared), clear(t.c1_g_abs), clear(t.g_squared, 1 - hyper.beta2),
              clear(t.m_abs, b1), clear(t.v_abs, b2), clear(t.m_new_abs),
              clear(t.v_stored_abs), clear(t.update_abs),
              clear(t.m_new_abs, c.coeff), *(clear(x) for x in centre_abs)]
    if c.decay is not None:
        checks.append(clear(t.theta_abs, c.decay))
    if t.l2:
        checks.append(clear(t.theta_abs, wd))
    if t.q is not None and t.root is not None and t.den is not None:
        checks += [clear(np.abs(t.q)), clear(np.abs(t.root)), clear(np.abs(t.den))]
    return not all(checks)


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
        values += [x for x in (terms.q, terms.root, terms.den, terms.v_max, terms.v_max_new)
                   if x is not None]
        if terms.trust is not None:  # LAMB: w, the step, and the scalars every element reads
            values += [terms.trust.w, terms.trust.step, *(
                np.full(terms.theta.shape, x) for x in (
                    terms.trust.norm_theta, terms.trust.norm_w, terms.trust.ratio))]
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


def _require_in_range(state: tuple[Array, ...], t: int, fmt: Format,
                      names: Sequence[str] = QUANTITIES) -> None:
    """As the mpmath judge: a value beyond the format's range is out of the error model's
    domain (the centre is within a few binary64 ulps of the exact value)."""
    largest = fmt.largest
    for name, values in zip(names, state, strict=False):
        beyond = np.flatnonzero(np.abs(values) > largest)
        if not beyond.size:
            beyond = np.flatnonzero(~(np.abs(values) <= largest))
        if beyond.size:
            i = int(beyond[0])
            raise OutOfDomainError(
                f"the exact {name}[{i}] after step t={t} is about {values[i]:.6g}, beyond the "
                f"largest {fmt.name} ({largest:.6g}): the error model assumes no overflow")


def _exact_element(start: Start, grads: Sequence[Array | None],
                   branches: Sequence[bool | None], index: int, t: int,
                   hypers: Sequence[Hyper], powers: Sequence[Powers | None],
                   convention: Convention, quantity: int) -> object:
    """The exact value of one element's quantity after step ``t`` (mpmath, elementwise),
    on the branches the judgement followed, each step with its hyperparameters (and its
    running powers, where the reading's corrections come from them)."""
    theta, m, v = (float(np.asarray(x).reshape(-1)[index]) for x in start[:3])
    extra = [None if x is None else [float(np.asarray(x).reshape(-1)[index])]
             for x in (*start[4:], None, None)[:2]]
    state = ExactState.from_floats([theta], [m], [v], int(start[3]), extra[0], extra[1])
    for grad, branch, hyper, power in zip(grads[:t - int(start[3])], branches, hypers, powers,
                                          strict=False):
        state = exact_step(state, [float(np.asarray(grad).reshape(-1)[index])], hyper,
                           convention, rectified=branch, powers=power)
    values = {"theta": state.theta, "m": state.m, "v": state.v, "v_max": state.maxima(),
              "slow": state.slow_weights()}
    return values[convention.quantities[quantity]][0]


#: LAMB's counterexamples: up to this many elements the exact value is computed over the
#: whole tensor in mpmath; above it the certified centre stands for it (within the fast
#: path's own bound of exact: a few parts in 10^30 around a double-double centre)
EXACT_LAMB_MAX = 4096


def _exact_lamb_element(start: Start, grads: Sequence[Array | None], index: int, t: int,
                        hypers: Sequence[Hyper], powers: Sequence[Powers | None],
                        convention: Convention, quantity: int, centres: Array,
                        lows: Array | None) -> object:
    """LAMB's element: its step reads the whole tensor's norms, so its exact value is the
    whole tensor's (up to :data:`EXACT_LAMB_MAX` elements), else the centre's hi + lo."""
    size = int(np.asarray(start[0]).size)
    if size > EXACT_LAMB_MAX:
        return real.mpf(float(centres[index])) + (0 if lows is None else float(lows[index]))
    theta, m, v = ([float(x) for x in np.asarray(y).reshape(-1)] for y in start[:3])
    extra = [None if x is None else [float(y) for y in np.asarray(x).reshape(-1)]
             for x in (*start[4:], None, None)[:2]]
    state = ExactState.from_floats(theta, m, v, int(start[3]), extra[0], extra[1])
    for grad, hyper, power in zip(grads[:t - int(start[3])], hypers, powers, strict=False):
        state = exact_step(state, [float(x) for x in np.asarray(grad).reshape(-1)], hyper,
                           convention, powers=power)
    values = {"theta": state.theta, "m": state.m, "v": state.v, "v_max": state.maxima(),
              "slow": state.slow_weights()}
    return values[convention.quantities[quantity]][index]
