"""A plain numpy RAdam for any convention: the project's own float32 reimplementation.

Coefficients are computed as implementations do (textbook formulas in binary64), the
element operations in the array dtype. It follows the plain-object protocol:
``init(theta) -> state`` and ``step(state, grad) -> state`` over numpy arrays; under an
AMSGrad reading the state carries the running maximum ``v_max`` (zeros at first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radam_verify.coefficients import textbook_coefficients
from radam_verify.conventions import Convention
from radam_verify.hyper import Hyper
from radam_verify.kernel import apply_step_max, lookahead_sync


@dataclass(frozen=True)
class NumpyState:
    theta: np.ndarray
    m: np.ndarray
    v: np.ndarray
    t: int
    v_max: np.ndarray | None = None  # AMSGrad's running maximum (None: not AMSGrad)
    slow: np.ndarray | None = None  # Lookahead's slow weights (None: theta, or no Lookahead)


@dataclass(frozen=True)
class NumpyRAdam:
    hyper: Hyper
    convention: Convention
    dtype: type[np.floating] = np.float32

    def init(self, theta: np.ndarray) -> NumpyState:
        values = np.asarray(theta, dtype=self.dtype)
        return NumpyState(values, np.zeros_like(values), np.zeros_like(values), 0,
                          np.zeros_like(values) if self.convention.keeps_max else None,
                          values.copy() if self.convention.holds_slow(0) else None)

    def state_at(self, theta: np.ndarray, m: np.ndarray, v: np.ndarray,
                 t: int, v_max: np.ndarray | None = None,
                 slow: np.ndarray | None = None) -> NumpyState:
        """A state injected at step count ``t`` (e.g. 10^6); AMSGrad's maximum ``v_max``
        (v where it is not given) and Lookahead's slow weights ``slow`` (theta where not
        given)."""
        as_dtype = [np.asarray(x, dtype=self.dtype) for x in (theta, m, v)]
        held = None
        if self.convention.keeps_max:
            held = np.asarray(v if v_max is None else v_max, dtype=self.dtype)
        phi = None
        if self.convention.lookahead:
            phi = np.asarray(theta if slow is None else slow, dtype=self.dtype)
        return NumpyState(as_dtype[0], as_dtype[1], as_dtype[2], t, held, phi)

    def step(self, state: NumpyState, grad: np.ndarray | None) -> NumpyState:
        if grad is None:
            return state
        c = textbook_coefficients(state.t + 1, self.hyper, self.convention)
        theta, m, v, v_max = apply_step_max(state.theta, state.m, state.v, state.v_max,
                                            np.asarray(grad, dtype=self.dtype), c, self.hyper,
                                            self.convention)
        slow = None
        if self.convention.lookahead:
            held = state.theta if state.slow is None else state.slow
            theta, slow = lookahead_sync(theta, held, state.t + 1, self.convention)
            if not self.convention.holds_slow(state.t + 1):  # not started yet
                slow = None
        return NumpyState(theta, m, v, state.t + 1, v_max, slow)
