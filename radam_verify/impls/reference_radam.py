"""The project's float32/float64 RAdam for any convention, as a plain-object protocol class.

``radam-verify check radam_verify.impls:ReferenceRAdam --verify-kwargs '{"convention":
"official"}'`` verifies it; the suite's own tests run it for every preset. It wraps
:class:`~radam_verify.impls.numpy_radam.NumpyRAdam`, taking the dtype of the parameters.
With ``in_place=True`` a step writes the new theta, m and v into the state's own arrays
and returns them, as a kernel that updates its buffers does: the same correct values, in
the memory a reader of the state must copy, not keep.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from radam_verify.conventions import Convention, parse_convention
from radam_verify.hyper import Hyper
from radam_verify.impls.numpy_radam import NumpyRAdam, NumpyState


class ReferenceRAdam:
    """RAdam under ``convention`` (a preset name or ``NAME,axis=value`` spec)."""

    def __init__(self, *, lr: float, beta1: float, beta2: float, eps: float,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str | Convention = "pytorch", in_place: bool = False) -> None:
        self.hyper = Hyper(lr, beta1, beta2, eps, weight_decay, maximize)
        self.in_place = in_place
        self.convention = (convention if isinstance(convention, Convention)
                           else parse_convention(convention))

    def _impl(self, dtype: np.dtype) -> NumpyRAdam:
        return NumpyRAdam(self.hyper, self.convention, dtype.type)

    def init(self, theta: np.ndarray) -> NumpyState:
        return self._impl(theta.dtype).init(theta)

    def state_at(self, theta: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
                 v_max: np.ndarray | None = None, slow: np.ndarray | None = None) -> NumpyState:
        """A state at step ``t``; ``v_max``: AMSGrad's running maximum (v where not given);
        ``slow``: Lookahead's slow weights (theta where not given)."""
        return self._impl(theta.dtype).state_at(theta, m, v, t, v_max, slow)

    def step(self, state: NumpyState, grad: np.ndarray | None) -> NumpyState:
        new = self._impl(state.theta.dtype).step(state, grad)
        if not self.in_place or new is state:
            return new
        for held, value in ((state.theta, new.theta), (state.m, new.m), (state.v, new.v),
                            (state.v_max, new.v_max), (state.slow, new.slow)):
            if held is not None and value is not None:
                held[...] = value
        return replace(new, theta=state.theta, m=state.m, v=state.v,
                       v_max=new.v_max if state.v_max is None else state.v_max,
                       slow=new.slow if state.slow is None else state.slow)
