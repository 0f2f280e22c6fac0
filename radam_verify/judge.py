"""Judge an implementation's numbers against the exact reference and the error model.

A step or trajectory conforms when every judgeable element lies within its bound.
Where the exact rho_t is inside the ambiguity band of the threshold, both branches are
legitimate: the reference is computed both ways at that step and follows the branch that
matches the implementation's numbers (within the bound, the two paths stay close).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radam_verify.coefficients import exact_coefficients
from radam_verify.conventions import Convention
from radam_verify.floats import Array, Format
from radam_verify.hyper import Hyper
from radam_verify.reference import ExactState, exact_step
from radam_verify.schedule import schedule_step
from radam_verify.tolerance import ScheduleErrors, StepBound, step_bound


@dataclass(frozen=True)
class Judgement:
    """The outcome: ``worst_ratio`` is max(error / bound) over judgeable elements (<= 1 passes)."""

    conforms: bool
    worst_ratio: float
    worst_error_ulps: float
    ambiguous_steps: tuple[int, ...]
    out_of_domain: int


def ambiguous_steps(hyper: Hyper, convention: Convention, fmt: Format,
                    steps: Sequence[int]) -> list[int]:
    """Steps whose exact rho_t lies within binary64's evaluation error of the threshold."""
    found = []
    for t in steps:
        sched = schedule_step(t, hyper.beta1, hyper.beta2, convention)
        if ScheduleErrors.binary64(sched, hyper, fmt).ambiguous(sched, convention.threshold):
            found.append(t)
    return found


def _bound(state: ExactState, grad: Array, hyper: Hyper, convention: Convention, fmt: Format,
           rectified: bool | None, inputs: StepBound | None, exact_scalars: bool) -> StepBound:
    t = state.t + 1
    sched = schedule_step(t, hyper.beta1, hyper.beta2, convention)
    c = exact_coefficients(t, hyper, convention, rectified)
    theta, m, v = (np.asarray(x, dtype=np.float64) for x in state.floats())
    a = inputs if inputs is not None else StepBound(*(np.zeros_like(theta),) * 3)
    errors = (ScheduleErrors.rounded_only(fmt) if exact_scalars
              else ScheduleErrors.binary64(sched, hyper, fmt))
    return step_bound(theta, m, v, grad, c, hyper, convention, fmt, errors, a.theta, a.m, a.v)


def _compare(observed: Sequence[Array], exact: ExactState, bound: StepBound,
             fmt: Format) -> tuple[float, float, int]:
    ratio, ulps, out = 0.0, 0.0, 0
    judgeable = bound.judgeable
    out = int(np.sum(~judgeable))
    for got, want, limit in zip(observed, exact.floats(), (bound.theta, bound.m, bound.v),
                                strict=True):
        got64 = np.asarray(got, dtype=np.float64)
        want64 = np.asarray(want, dtype=np.float64)
        with np.errstate(all="ignore"):
            err = np.where(judgeable, np.abs(got64 - want64), 0.0)
            err = np.where(np.isnan(got64) & judgeable, np.inf, err)
            r = np.where(err == 0, 0.0, err / np.where(limit > 0, limit, 0.0))
        ratio = max(ratio, float(np.max(r, initial=0.0)))
        scale = np.maximum(np.abs(want64), np.abs(got64))
        ulps = max(ulps, float(np.max(np.where(judgeable, err / fmt.ulp(scale), 0.0), initial=0.0)))
    return ratio, ulps, out


def judge_trajectory(
    observed: Sequence[Sequence[Array]],
    start: ExactState,
    grads: Sequence[Array | None],
    hyper: Hyper,
    convention: Convention,
    fmt: Format,
    *,
    exact_scalars: bool = False,
) -> Judgement:
    """Compare an implementation's (theta, m, v) after each step with the exact trajectory.

    ``start`` is the state both began from (a fresh state, or one injected at any t);
    the bound accumulates along the way (global error). With one step it is the local check.
    ``exact_scalars``: the implementation received exactly rounded coefficients (the fast
    reference), so only their rounding is allowed and no branch is ambiguous.
    """
    stepped = [start.t + 1 + k for k in range(sum(g is not None for g in grads))]
    band = set() if exact_scalars else set(ambiguous_steps(hyper, convention, fmt, stepped))
    state, inputs = start, None
    worst, worst_ulps, out = 0.0, 0.0, 0
    for grad, obs in zip(grads, observed, strict=True):
        if grad is None:
            continue
        g64 = np.asarray(grad, dtype=np.float64)
        t = state.t + 1
        # inside the band either branch is legitimate: follow the one the implementation took
        choices: list[bool | None] = [False, True] if t in band else [None]
        best: tuple[float, float, int, ExactState, StepBound] | None = None
        for branch in choices:
            bound = _bound(state, g64, hyper, convention, fmt, branch, inputs, exact_scalars)
            candidate = exact_step(state, [float(x) for x in g64], hyper, convention,
                                   rectified=branch)
            ratio, ulps, n_out = _compare(obs, candidate, bound, fmt)
            if best is None or ratio < best[0]:
                best = (ratio, ulps, n_out, candidate, bound)
        assert best is not None
        ratio, ulps, n_out, state, inputs = best
        worst, worst_ulps, out = max(worst, ratio), max(worst_ulps, ulps), max(out, n_out)
    return Judgement(worst <= 1.0, worst, worst_ulps, tuple(sorted(band)), out)
