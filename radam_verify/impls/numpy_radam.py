"""A plain numpy RAdam for any convention: the project's own float32 reimplementation.

Coefficients are computed as implementations do (textbook formulas in binary64), the
element operations in the array dtype. It follows the plain-object protocol:
``init(theta) -> state`` and ``step(state, grad) -> state`` over numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radam_verify.coefficients import textbook_coefficients
from radam_verify.conventions import Convention
from radam_verify.hyper import Hyper
from radam_verify.kernel import apply_step


@dataclass(frozen=True)
class NumpyState:
    theta: np.ndarray
    m: np.ndarray
    v: np.ndarray
    t: int


@dataclass(frozen=True)
class NumpyRAdam:
    hyper: Hyper
    convention: Convention
    dtype: type[np.floating] = np.float32

    def init(self, theta: np.ndarray) -> NumpyState:
        values = np.asarray(theta, dtype=self.dtype)
        return NumpyState(values, np.zeros_like(values), np.zeros_like(values), 0)

    def state_at(self, theta: np.ndarray, m: np.ndarray, v: np.ndarray,
                 t: int) -> NumpyState:
        """A state injected at step count ``t`` (e.g. 10^6)."""
        as_dtype = [np.asarray(x, dtype=self.dtype) for x in (theta, m, v)]
        return NumpyState(as_dtype[0], as_dtype[1], as_dtype[2], t)

    def step(self, state: NumpyState, grad: np.ndarray | None) -> NumpyState:
        if grad is None:
            return state
        c = textbook_coefficients(state.t + 1, self.hyper, self.convention)
        theta, m, v = apply_step(state.theta, state.m, state.v,
                                 np.asarray(grad, dtype=self.dtype), c, self.hyper, self.convention)
        return NumpyState(theta, m, v, state.t + 1)
