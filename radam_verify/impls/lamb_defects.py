"""LAMB's part of the defect catalogue, and the correct LAMB each defect varies.

:class:`ConventionLamb` is :class:`~radam_verify.impls.torch_radam.ConventionRAdam` under
the ``lamb`` preset (You et al. 2020, Algorithm 2: bias-corrected Adam direction u, the
decay wd theta added to it before the trust ratio, R = ||theta|| / ||u + wd theta||, R = 1
where a norm is zero). Each defect overrides one stage; ``shows`` names the property that
must reject it and the quantity it must find different, as for RAdam's defects
(``tests/test_catalogue.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

import torch

from radam_verify.coefficients import Coefficients
from radam_verify.hyper import Hyper
from radam_verify.impls.defects import Defect, Shows
from radam_verify.impls.torch_radam import ConventionRAdam


class ConventionLamb(ConventionRAdam):
    """LAMB as the paper reads it (the ``lamb`` preset), or any LAMB ``convention``."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.01, maximize: bool = False,
                 convention: str = "lamb") -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)


class ConventionClippedLamb(ConventionLamb):
    """LAMB with global gradient clipping at 1 (timm's default ``max_grad_norm=1.0``): every
    gradient divided by max(1, ||G||), G all gradients of all groups."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.01, maximize: bool = False,
                 convention: str = "lamb,clip_norm=1") -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)


class LambDefect(ConventionLamb, Defect):
    """A LAMB defect: verified against the ``lamb`` preset, shown against ConventionLamb."""

    verify_convention: ClassVar[str] = "lamb"
    correct: ClassVar[str] = f"{__name__}:ConventionLamb"


class LambDecayOutsideRatio(LambDefect):
    """The trust ratio is formed from ||u|| alone and the decay added after it:
    R ||theta|| / ||u|| applied to u + wd theta, where the reading verified puts wd theta
    inside the norm."""

    shows = Shows("test_weight_decay_follows_the_convention", ("theta",))

    def trust_ratio(self, param: torch.Tensor, w: torch.Tensor, h: Hyper) -> float:
        u = w.sub(param, alpha=h.weight_decay) if h.weight_decay else w
        return super().trust_ratio(param, u, h)


class LambZeroNormStopsTheStep(LambDefect):
    """Where ||theta|| is zero (a tensor initialised to zeros, as biases are) the ratio is
    taken as 0 / ||w|| = 0, so that tensor never moves; the reading's rule is R = 1."""

    shows = Shows("test_lamb_trust_ratio_with_a_zero_norm_follows_the_rule", ("theta",))

    def trust_ratio(self, param: torch.Tensor, w: torch.Tensor, h: Hyper) -> float:
        if float(param.norm()) == 0:
            return 0.0
        return super().trust_ratio(param, w, h)


class LambNormsOverTheGroup(LambDefect):
    """The norms are taken over every tensor of the group together (one ratio per group),
    where LAMB's layers are its tensors: each tensor's step no longer has norm lr ||theta||."""

    shows = Shows("test_lamb_step_of_each_tensor_has_norm_lr_phi", ("theta",))

    def begin(self, group: dict[str, Any]) -> None:
        params = [p for p in group["params"] if p.grad is not None]
        self.__dict__["group_norm"] = float(torch.sqrt(sum(
            (p.detach().double() ** 2).sum() for p in params))) if params else 0.0

    def trust_ratio(self, param: torch.Tensor, w: torch.Tensor, h: Hyper) -> float:
        ratio = super().trust_ratio(param, w, h)
        own = float(param.norm())
        if own == 0 or ratio == 1.0:
            return ratio
        return ratio * float(self.__dict__["group_norm"]) / own


class LambRatioOfSquares(LambDefect):
    """The ratio is formed from the sums of squares without their roots,
    ||theta||^2 / ||w||^2."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("theta",))

    def trust_ratio(self, param: torch.Tensor, w: torch.Tensor, h: Hyper) -> float:
        ratio = super().trust_ratio(param, w, h)
        return ratio * ratio


class LambFirstMomentNotCorrected(LambDefect):
    """m is not divided by 1 - beta1^t: the direction the trust ratio scales is m /
    (sqrt(v_hat) + eps). The norm of the step is unchanged, its direction is not (u's
    elements keep their ratios only while eps is negligible)."""

    shows = Shows("test_trajectories_stay_within_the_global_bound", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        return replace(super().coefficients(t, h), coeff=1.0)


class LambClipsEachGroup(ConventionClippedLamb, Defect):
    """The gradients are clipped by the norm of their own group's gradients, where the
    reading clips by the norm of all of them together: a group's gradients no longer
    depend on the other groups' (a per-group max_grad_norm)."""

    verify_convention: ClassVar[str] = "lamb,clip_norm=1"
    correct: ClassVar[str] = f"{__name__}:ConventionClippedLamb"
    shows = Shows("test_parameter_groups_keep_their_own_hyperparameters", ("theta", "m", "v"))

    def clip_factor(self) -> torch.Tensor | None:
        return None  # set per group in begin()

    def begin(self, group: dict[str, Any]) -> None:
        self.clip = self.clip_over(list(group["params"]))


LAMB_CATALOGUE: dict[str, type[Defect]] = {
    cls.__name__: cls for cls in (
        LambDecayOutsideRatio, LambZeroNormStopsTheStep, LambNormsOverTheGroup,
        LambRatioOfSquares, LambFirstMomentNotCorrected, LambClipsEachGroup,
    )
}
