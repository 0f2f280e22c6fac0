"""Correct RAdam implementations that compute differently from the catalogue's base class.

A conformance suite must accept every correct implementation, not only the one it was
written beside. Each class here is :class:`~radam_verify.impls.torch_radam.ConventionRAdam`
(the same readings, the same binary64 schedule) organised the way real kernels are:

* :class:`ChunkedRAdam` steps every tensor in fixed-size chunks of its elements, as
  multi-tensor kernels split their work into blocks (torch's ``_foreach`` chunking,
  apex's ``multi_tensor_apply``), through a contiguous working copy where the parameter or
  its state is a strided view;
* :class:`Float32MomentsRAdam` keeps the moments of bfloat16 and float16 parameters in
  float32 and evaluates the whole update in float32, rounding only the new parameter to its
  format (as mixed-precision optimizers keep "master" state). torch's ``load_state_dict``
  casts every floating-point state tensor to its parameter's dtype, which would round the
  float32 moments to bfloat16 on reload (the state-dict property finds that); the class
  keeps the loaded moments in float32, as timm's optimizers do.

* :class:`AccurateScheduleRAdam` evaluates the schedule (the bias corrections, rho_t, r_t and
  the coefficient) in 80-digit decimal arithmetic and rounds each scalar once to binary64,
  so it passes ``--verify-schedule=accurate``, which the textbook binary64 formulas fail
  near b2 = 1.

All are exactly as accurate as the error model allows or more so; ``tests/test_plugin.py``
requires each to conform with every property in every dtype the suite takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal, localcontext
from typing import Any

import torch

from radam_verify.coefficients import Coefficients, decay_factor
from radam_verify.conventions import Convention
from radam_verify.hyper import Hyper
from radam_verify.impls.torch_radam import ConventionRAdam

_MOMENTS = ("exp_avg", "exp_avg_sq")


class ChunkedRAdam(ConventionRAdam):
    """Steps each tensor in chunks of ``chunk`` consecutive elements (default 1000, so that the
    suite's tensors of thousands of elements cross several chunk boundaries and end in a
    partial chunk)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str = "pytorch", chunk: int = 1000) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)
        self.chunk = chunk

    def _chunks(self, n: int) -> Iterator[slice]:
        for start in range(0, n, self.chunk):
            yield slice(start, min(n, start + self.chunk))

    def moments(self, state: dict[str, Any], grad: torch.Tensor, h: Hyper) -> None:
        work = {key: state[key].contiguous() for key in _MOMENTS}
        flat = {key: value.view(-1) for key, value in work.items()}
        g = grad.contiguous().view(-1)
        for part in self._chunks(g.numel()):
            super().moments({key: value[part] for key, value in flat.items()}, g[part], h)
        for key in _MOMENTS:
            if work[key] is not state[key]:
                state[key].copy_(work[key])

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        target = param.contiguous()
        flat = target.view(-1)
        moments = {key: state[key].contiguous().view(-1) for key in _MOMENTS}
        for part in self._chunks(flat.numel()):
            super().update(flat[part], {key: value[part] for key, value in moments.items()}, c, h)
        if target is not param:
            param.copy_(target)


class Float32MomentsRAdam(ConventionRAdam):
    """Moments in float32 for parameters narrower than float32, the update evaluated in
    float32 and rounded once to the parameter's format; parameters of float32 and wider are
    stepped as :class:`ConventionRAdam` steps them."""

    @staticmethod
    def _narrow(param: torch.Tensor) -> bool:
        return param.dtype in (torch.bfloat16, torch.float16)

    def init_state(self, param: torch.Tensor) -> dict[str, Any]:
        state = super().init_state(param)
        if self._narrow(param):
            for key in _MOMENTS:
                state[key] = state[key].float()
        return state

    def gradient(self, param: torch.Tensor, grad: torch.Tensor, h: Hyper) -> torch.Tensor:
        if self._narrow(param):  # L2 decay added in float32 to the float32 gradient
            return super().gradient(param.float(), grad.float(), h)
        return super().gradient(param, grad, h)

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        if not self._narrow(param):
            super().update(param, state, c, h)
            return
        master = param.float()
        super().update(master, state, c, h)
        param.copy_(master)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        saved_ids = [i for group in state_dict["param_groups"] for i in group["params"]]
        params = [p for group in self.param_groups for p in group["params"]]
        for index, param in zip(saved_ids, params, strict=True):
            saved = state_dict["state"].get(index)
            if saved is None or not self._narrow(param):
                continue
            for key in _MOMENTS:  # the saved float32 values, not torch's cast of them
                self.state[param][key] = saved[key].detach().to(torch.float32, copy=True)


#: decimal digits of the accurate schedule: the textbook rho_t loses about log10(rho_inf / rho_t)
#: digits to cancellation (12 at b2 = 1 - 1e-12), which leaves more than 60
SCHEDULE_DIGITS = 80


def decimal_coefficients(t: int, hyper: Hyper, convention: Convention) -> Coefficients:
    """The textbook formulas evaluated in :data:`SCHEDULE_DIGITS`-digit decimal arithmetic
    from the binary64 betas (exactly converted), each scalar rounded once to binary64."""
    with localcontext() as ctx:
        ctx.prec = SCHEDULE_DIGITS
        b1, b2, lr = Decimal(hyper.beta1), Decimal(hyper.beta2), Decimal(hyper.lr)
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / bc2
        threshold = Decimal(convention.threshold)
        rectified = rho_t > threshold if convention.comparison == ">" else rho_t >= threshold
        updates = rectified or convention.below == "sgd"
        if rectified:
            r = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)).sqrt()
            scale = bc2.sqrt() if convention.eps == "raw" else Decimal(1)
            coeff, r_t = lr * r * scale / bc1, r
        else:
            coeff, r_t = (lr / bc1 if updates else Decimal(0)), Decimal(1)
        return Coefficients(t, bool(rectified), updates, float(coeff), float(r_t),
                            float(1 / bc2), decay_factor(hyper, convention, updates))


class AccurateScheduleRAdam(ConventionRAdam):
    """:class:`ConventionRAdam` with the schedule of :func:`decimal_coefficients`."""

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        return decimal_coefficients(t, h, self.convention)
