"""A plain ``torch.optim.Optimizer`` RAdam for any convention (the catalogue's base).

Scalars come from the textbook binary64 formulas (:func:`textbook_coefficients`), element
operations run in the parameters' dtype with torch's own kernels; complex parameters are
stepped as pairs of reals, as ``torch.optim`` does. Each stage is a method,
so a defect in :mod:`radam_verify.impls.defects` overrides exactly one of them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from radam_verify.coefficients import Coefficients, textbook_coefficients
from radam_verify.conventions import Convention, LookaheadAction, parse_convention
from radam_verify.errors import OutOfDomainError
from radam_verify.hyper import Hyper


class ConventionRAdam(torch.optim.Optimizer):
    """RAdam under ``convention`` (preset name or ``NAME,axis=value`` spec; default pytorch)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str = "pytorch") -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize}
        super().__init__(params, defaults)
        self.convention: Convention = parse_convention(convention)
        #: this step's clipping factor max(1, ||G|| / clip_norm) (None: the reading clips not)
        self.clip: torch.Tensor | None = None

    def clip_factor(self) -> torch.Tensor | None:
        """LAMB's global clipping: max(1, ||G|| / clip_norm), G every gradient of every
        group, as the norm of the tensors' norms (timm's ``_get_clip_grad_norm``)."""
        if math.isinf(self.convention.clip_norm):
            return None
        return self.clip_over([p for group in self.param_groups for p in group["params"]])

    def clip_over(self, params: list[torch.Tensor]) -> torch.Tensor | None:
        """max(1, ||G|| / clip_norm) over the gradients of ``params`` (None: none has one)."""
        norms = [torch.linalg.vector_norm(p.grad) for p in params if p.grad is not None]
        if not norms:
            return None
        # in binary64: a group may mix dtypes, whose norms torch.stack would not take
        total = torch.linalg.vector_norm(torch.stack([n.double() for n in norms]))
        factor: torch.Tensor = (total / self.convention.clip_norm).clamp_(min=1.0)
        return factor

    def hyper(self, group: dict[str, Any]) -> Hyper:
        """The group's hyperparameters as the reading holds them (``scalars=float32-held``:
        rounded to binary32, where that leaves a step; the suite judges the rest out of
        its domain)."""
        beta1, beta2 = group["betas"]
        given = Hyper(group["lr"], beta1, beta2, group["eps"], group["weight_decay"],
                      group["maximize"])
        try:
            return self.convention.held(given)
        except OutOfDomainError:
            return given

    def gradient(self, param: torch.Tensor, grad: torch.Tensor, h: Hyper) -> torch.Tensor:
        """The gradient the moments see; ``grad`` is ``param.grad`` (or its real view),
        divided by the step's clipping factor where the reading clips (LAMB)."""
        if self.clip is not None:
            grad = grad / self.clip
        grad = -grad if h.maximize else grad
        if self.convention.weight_decay == "l2" and h.weight_decay != 0.0:
            grad = grad.add(param, alpha=h.weight_decay)
        return grad

    def begin(self, group: dict[str, Any]) -> None:
        """Called once per group at the start of every step (a group counter's place)."""

    def count(self, state: dict[str, Any]) -> int:
        state["step"] += 1
        return int(state["step"])

    def moments(self, state: dict[str, Any], grad: torch.Tensor, h: Hyper) -> None:
        state["exp_avg"].mul_(h.beta1).add_(grad, alpha=1 - h.beta1)
        state["exp_avg_sq"].mul_(h.beta2).addcmul_(grad, grad, value=1 - h.beta2)

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        return textbook_coefficients(t, h, self.convention)

    def scalars(self, t: int, h: Hyper, state: dict[str, Any]) -> Coefficients:
        """The step's scalars: :meth:`coefficients`, or where the reading's powers are running
        products, the textbook formulas on the products the state holds (:meth:`powers`)."""
        if self.convention.powers == "running":
            return textbook_coefficients(t, h, self.convention, self.powers(state, t, h))
        return self.coefficients(t, h)

    def powers(self, state: dict[str, Any], t: int, h: Hyper) -> tuple[float, float]:
        """The running products of the betas after step ``t``, advanced by this step's betas
        (as PaddlePaddle's ``beta1_pow`` and ``beta2_pow``): ``state["beta_powers"]`` holds
        them with the step they belong to; a state without them for step t - 1 (set at
        another step count) starts from the current betas' powers."""
        p1, p2, at = state.get("beta_powers", (0.0, 0.0, -1))
        if at != t - 1:
            p1, p2 = h.beta1 ** (t - 1), h.beta2 ** (t - 1)
        state["beta_powers"] = (p1 * h.beta1, p2 * h.beta2, t)
        return p1 * h.beta1, p2 * h.beta2

    def maximum(self, state: dict[str, Any], c: Coefficients) -> torch.Tensor:
        """The second moment the denominator reads: v, or AMSGrad's running maximum (of v,
        or of v_hat = v / (1 - beta2^t)) kept in ``max_exp_avg_sq`` as torch.optim.Adam does."""
        amsgrad = self.convention.amsgrad
        v: torch.Tensor = state["exp_avg_sq"]
        if amsgrad == "none":
            return v
        mine = state["exp_avg_sq"] if amsgrad == "v" else state["exp_avg_sq"] * c.inv_bc2
        held: torch.Tensor = torch.maximum(state["max_exp_avg_sq"], mine,
                                           out=state["max_exp_avg_sq"])
        return held

    def denominator(self, v: torch.Tensor, c: Coefficients, h: Hyper) -> torch.Tensor:
        hat = self.convention.eps == "hat" and self.convention.amsgrad != "v_hat"
        q = v * c.inv_bc2 if hat else v
        if self.convention.eps_root:  # inside the root, as optax's eps_root
            q = q + self.convention.root_offset
        return q.sqrt().add_(h.eps)

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        before = param.clone() if self.convention.is_lamb else param
        if c.decay is not None:
            param.mul_(c.decay)
        if self.convention.is_lamb:  # Adam's direction u, scaled per tensor by the trust ratio
            u = state["exp_avg"] * c.coeff / self.denominator(state["exp_avg_sq"], c, h)
            w = self.lamb_direction(u, before, h)
            param.add_(w, alpha=-h.lr * self.trust_ratio(param, w, h))
            return
        if c.rectified:
            param.addcdiv_(state["exp_avg"], self.denominator(self.maximum(state, c), c, h),
                           value=-c.coeff)
        elif c.updates:
            param.add_(state["exp_avg"], alpha=-c.coeff)

    def lamb_direction(self, u: torch.Tensor, param: torch.Tensor, h: Hyper) -> torch.Tensor:
        """LAMB's w: u + wd theta where the reading puts the decay in the ratio, else u."""
        if self.convention.weight_decay == "in-ratio" and h.weight_decay != 0.0:
            return u.add(param, alpha=h.weight_decay)
        return u

    def trust_ratio(self, param: torch.Tensor, w: torch.Tensor, h: Hyper) -> float:
        """LAMB's R = min(phi(||theta||) / ||w||, trust_max), phi(x) = min(x, phi_max); 1
        where either norm is zero or the reading does not adapt this tensor."""
        c = self.convention
        if not c.trusts(h.weight_decay):
            return 1.0
        phi = min(float(param.norm()), c.phi_max)
        norm_w = float(w.norm())
        if phi == 0 or norm_w == 0:
            return 1.0
        return min(phi / norm_w, c.trust_max)

    def init_state(self, param: torch.Tensor) -> dict[str, Any]:
        state = {"step": 0, "exp_avg": torch.zeros_like(param),
                 "exp_avg_sq": torch.zeros_like(param)}
        if self.convention.keeps_max:
            state["max_exp_avg_sq"] = torch.zeros_like(param)
        if self.convention.holds_slow(0):  # Lookahead's slow weights start at theta
            state["slow_buffer"] = param.detach().clone()
        return state

    def lookahead(self, param: torch.Tensor, state: dict[str, Any], t: int) -> None:
        """Lookahead after step ``t``: phi += alpha (theta - phi) and theta = phi on a sync
        step (phi set to theta where the reading starts it after this step)."""
        self.end_lookahead(param, state, self.convention.lookahead_action(t))

    def end_lookahead(self, param: torch.Tensor, state: dict[str, Any],
                      action: LookaheadAction) -> None:
        """Lookahead's ``action`` at the end of a step: ``set`` phi = theta, ``sync`` phi +=
        alpha (theta - phi) and theta = phi (a complex tensor as pairs of reals)."""
        if action == "set":
            state["slow_buffer"] = param.detach().clone()
        elif action == "sync":
            target = torch.view_as_real(param) if param.is_complex() else param
            slow = state["slow_buffer"]
            slow_view = torch.view_as_real(slow) if slow.is_complex() else slow
            slow_view.add_(target - slow_view, alpha=self.convention.lookahead_alpha)
            target.copy_(slow_view)

    @torch.no_grad()
    def group_lookahead(self, group: dict[str, Any]) -> None:
        """Lookahead counted per group (timm's and pytorch-optimizer's ``lookahead_step``,
        torch-optimizer's ``counter``): the group's count advances on every step; on its
        sync steps each tensor with a gradient (``lookahead_count=group``), or every tensor
        of the group (``group-all``), is synced, its slow weights set first where it holds
        none yet."""
        c = self.convention
        clock = group["lookahead_step"] = int(group.get("lookahead_step", 0)) + 1
        for param in group["params"]:
            state = self.state[param]
            holds = "slow_buffer" in state if state else c.holds_slow(0)
            action = c.lookahead_action(int(state.get("step", 0)), clock,
                                        stepped=param.grad is not None, holds=holds)
            if action != "none" and not state:  # never stepped: synced with its group
                state.update(self.init_state(param))
            self.end_lookahead(param, state, action)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch.optim.Optimizer.load_state_dict keeps the state dict's tensors themselves
        (shared with the optimizer it came from; pytorch/pytorch#196083): load a copy."""
        super().load_state_dict(copy.deepcopy(state_dict))

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.clip = self.clip_factor()
        for group in self.param_groups:
            h = self.hyper(group)
            self.begin(group)
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state.update(self.init_state(param))
                t = self.count(state)
                c = self.scalars(t, h, state)
                grad = param.grad
                if param.is_complex():  # as torch.optim does: a complex tensor is pairs of reals
                    param, grad = torch.view_as_real(param), torch.view_as_real(grad)
                    state = {key: torch.view_as_real(value)
                             if isinstance(value, torch.Tensor) and value.is_complex() else value
                             for key, value in state.items()}
                grad = self.gradient(param, grad, h)
                self.moments(state, grad, h)
                self.update(param, state, c, h)
                if self.convention.lookahead and self.convention.lookahead_count == "tensor":
                    self.lookahead(param, state, t)
            if self.convention.lookahead and self.convention.lookahead_count != "tensor":
                self.group_lookahead(group)
        return loss
