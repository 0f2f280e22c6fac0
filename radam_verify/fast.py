"""The fast reference: vectorised float64 with exact per-step coefficients.

Its distance from exact arithmetic is bounded by the error model of
:mod:`radam_verify.tolerance` with the binary64 format and coefficients that carry only
their final rounding (``ScheduleErrors.rounded_only``): ``judge_trajectory(...,
exact_scalars=True)`` applies it, and the tests check it against the mpmath path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radam_verify.coefficients import exact_coefficients
from radam_verify.conventions import Convention
from radam_verify.hyper import Hyper
from radam_verify.kernel import apply_step_max, lookahead_sync


@dataclass(frozen=True)
class FastState:
    theta: np.ndarray
    m: np.ndarray
    v: np.ndarray
    t: int
    v_max: np.ndarray | None = None  # AMSGrad's running maximum (None: zeros, or none)
    slow: np.ndarray | None = None  # Lookahead's slow weights (None: theta, or none)

    @classmethod
    def initial(cls, theta: Sequence[float] | np.ndarray) -> FastState:
        values = np.asarray(theta, dtype=np.float64)
        return cls(values, np.zeros_like(values), np.zeros_like(values), 0)


def fast_step(state: FastState, grad: np.ndarray | None, hyper: Hyper,
              convention: Convention, rectified: bool | None = None) -> FastState:
    """One float64 step with coefficients from the certified exact schedule."""
    if grad is None:
        return state
    c = exact_coefficients(state.t + 1, hyper, convention, rectified)
    theta, m, v, v_max = apply_step_max(state.theta, state.m, state.v, state.v_max,
                                        np.asarray(grad, np.float64), c, hyper, convention)
    slow = None
    if convention.lookahead:
        held = state.theta if state.slow is None else state.slow
        theta, slow = lookahead_sync(theta, held, state.t + 1, convention)
    return FastState(theta, m, v, state.t + 1, v_max, slow)


def fast_trajectory(theta0: Sequence[float] | np.ndarray,
                    grads: Sequence[np.ndarray | None], hyper: Hyper,
                    convention: Convention) -> list[FastState]:
    state = FastState.initial(theta0)
    out = []
    for grad in grads:
        state = fast_step(state, grad, hyper, convention)
        out.append(state)
    return out
