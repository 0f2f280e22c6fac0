"""Correct RAdam implementations in the other state layouts (:mod:`radam_verify.layout`).

:class:`LayoutRAdam` is :class:`~radam_verify.impls.torch_radam.ConventionRAdam` keeping
its state the way other libraries do, each a legitimate rewriting of the same algorithm:

* ``moments="debiased"``: ``exp_avg``/``exp_avg_sq`` hold the bias-corrected m_hat, v_hat,
  updated by the debiased recursion with beta_hat_t = (b^t - b) / (b^t - 1) in binary64
  (as torch-optimi does), and the step uses them directly;
* ``counter="group"``: one step count per group, an int32 tensor the group's first step
  creates (with a ``setup`` flag), advancing on every ``step()`` also for tensors that have
  no gradient then;
* an empty per-tensor entry (``compensation: None``), as optimi keeps ``kahan_comp``.

The suite must accept each of them exactly as it accepts ``ConventionRAdam``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from radam_verify.coefficients import Coefficients
from radam_verify.errors import UsageError
from radam_verify.hyper import Hyper
from radam_verify.impls.torch_radam import ConventionRAdam


def debias_beta(beta: float, t: int) -> float:
    """beta_hat_t = b (1 - b^(t-1)) / (1 - b^t), evaluated as (b^t - b) / (b^t - 1)."""
    return (beta**t - beta) / (beta**t - 1)


class LayoutRAdam(ConventionRAdam):
    """RAdam under ``convention`` with ``moments`` raw or debiased and ``counter`` per tensor
    or per group. The debiased moments need eps on sqrt(v_hat) (``eps=hat``)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str = "pytorch,eps=hat", moments: str = "debiased",
                 counter: str = "group") -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)
        if moments not in ("raw", "debiased") or counter not in ("tensor", "group"):
            raise UsageError("LayoutRAdam takes moments='raw' or 'debiased' and counter='tensor' "
                             "or 'group'")
        if moments == "debiased" and self.convention.eps != "hat":
            raise UsageError("debiased moments step with eps on sqrt(v_hat): pass a convention "
                             "with eps=hat")
        self.debiased, self.per_group = moments == "debiased", counter == "group"
        self._t = self._group_t = 0  # the step count of the tensor (of the group) being stepped

    def begin(self, group: dict[str, Any]) -> None:
        if self.per_group:
            if not group.get("setup", False):
                group["setup"] = True
                group["step"] = torch.tensor(0, dtype=torch.int32)
            group["step"].add_(1)
            self._group_t = int(group["step"])

    def init_state(self, param: torch.Tensor) -> dict[str, Any]:
        state = super().init_state(param)
        if self.per_group:
            del state["step"]
        state["compensation"] = None
        return state

    def count(self, state: dict[str, Any]) -> int:
        self._t = self._group_t if self.per_group else super().count(state)
        return self._t

    def moments(self, state: dict[str, Any], grad: torch.Tensor, h: Hyper) -> None:
        if not self.debiased:
            super().moments(state, grad, h)
            return
        t = self._t
        beta1_hat, beta2_hat = debias_beta(h.beta1, t), debias_beta(h.beta2, t)
        state["exp_avg"].lerp_(grad, 1 - beta1_hat)
        state["exp_avg_sq"].mul_(beta2_hat).addcmul_(grad, grad, value=1 - beta2_hat)

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        if not self.debiased:
            super().update(param, state, c, h)
            return
        if c.decay is not None:
            param.mul_(c.decay)
        if c.rectified:  # lr r_t m_hat / (sqrt(v_hat) + eps)
            param.addcdiv_(state["exp_avg"], state["exp_avg_sq"].sqrt().add_(h.eps),
                           value=-h.lr * c.r_t)
        elif c.updates:  # lr m_hat
            param.add_(state["exp_avg"], alpha=-h.lr)
