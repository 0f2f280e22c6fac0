"""Adam's part of the defect catalogue, and the correct Adam and AdamW each defect varies.

:class:`ConventionAdam` and :class:`ConventionAdamW` (and :class:`ConventionRootedAdam`,
optax's reading with a constant inside the root) are
:class:`~radam_verify.impls.torch_radam.ConventionRAdam` under Adam's presets (``adam``:
torch.optim.Adam's reading; ``adamw``: torch.optim.AdamW's): every step rectified with r_t
= 1. Each defect overrides one stage of one of them; ``shows`` names the property that must
reject it and the quantity it must find different, as for RAdam's defects
(``tests/test_catalogue.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import torch

from radam_verify.coefficients import Coefficients
from radam_verify.hyper import Hyper
from radam_verify.impls.defects import Defect, Shows
from radam_verify.impls.torch_radam import ConventionRAdam


class ConventionAdam(ConventionRAdam):
    """Adam as torch.optim.Adam reads it (the ``adam`` preset), or any Adam ``convention``."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str = "adam") -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)


class ConventionAdamW(ConventionAdam):
    """AdamW as torch.optim.AdamW reads it (the ``adamw`` preset: decay 1 - lr wd)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, maximize: bool = False,
                 convention: str = "adamw") -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)


class ConventionAMSGrad(ConventionAdam):
    """AMSGrad as torch.optim.Adam(amsgrad=True) reads it (the ``amsgrad`` preset: the running
    maximum of v in ``max_exp_avg_sq``, bias-corrected in the denominator)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str = "amsgrad") -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)


#: optax.adam(eps_root=1e-6)'s reading: sqrt(v_hat + eps_root) + eps
ROOTED = "optax-adam,eps_root=1e-06"


class ConventionRootedAdam(ConventionAdam):
    """Adam with a constant inside the root, as ``optax.adam(eps_root=1e-6)`` reads it (the
    ``optax-adam,eps_root=1e-6`` reading): m_hat / (sqrt(v_hat + eps_root) + eps)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str = ROOTED) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)


class AdamDefect(ConventionAdam, Defect):
    """An Adam defect: verified against the ``adam`` preset, shown against ConventionAdam."""

    verify_convention: ClassVar[str] = "adam"
    correct: ClassVar[str] = f"{__name__}:ConventionAdam"


class AdamWDefect(ConventionAdamW, Defect):
    """An AdamW defect: verified against the ``adamw`` preset, shown against ConventionAdamW."""

    verify_convention: ClassVar[str] = "adamw"
    correct: ClassVar[str] = f"{__name__}:ConventionAdamW"


class AMSGradDefect(ConventionAMSGrad, Defect):
    """An AMSGrad defect: verified against the ``amsgrad`` preset, shown against
    ConventionAMSGrad."""

    verify_convention: ClassVar[str] = "amsgrad"
    correct: ClassVar[str] = f"{__name__}:ConventionAMSGrad"


class RootedAdamDefect(ConventionRootedAdam, Defect):
    """A defect of Adam with eps_root: verified against ``optax-adam,eps_root=1e-6``, shown
    against ConventionRootedAdam."""

    verify_convention: ClassVar[str] = ROOTED
    correct: ClassVar[str] = f"{__name__}:ConventionRootedAdam"


class AdamNoSecondBiasCorrection(AdamDefect):
    """v is not divided by 1 - beta2^t: m_hat / (sqrt(v) + eps)."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        return replace(super().coefficients(t, h), inv_bc2=1.0)


class AdamEpsBesideRawRoot(AdamDefect):
    """eps added to sqrt(v) with the step scaled by sqrt(1 - beta2^t) (Keras' order) where
    the reading verified puts it on sqrt(v_hat): a different eps, sqrt(1 - beta2^t) eps."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        return replace(c, coeff=c.coeff * float(np.sqrt(1 - h.beta2**t)))

    def denominator(self, v: torch.Tensor, c: Coefficients, h: Hyper) -> torch.Tensor:
        return v.sqrt().add_(h.eps)


class AdamBiasCorrectionsInFloat32(AdamDefect):
    """1 - beta1^t and 1 - beta2^t formed in float32 from float32 betas (as a float32 step
    count tensor gives them), whatever the parameters' dtype."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        b1, b2, one = np.float32(h.beta1), np.float32(h.beta2), np.float32(1)
        bc1, bc2 = one - b1 ** np.float32(t), one - b2 ** np.float32(t)
        return replace(c, coeff=h.lr / float(bc1), inv_bc2=1.0 / float(bc2))


class AdamEpsRootBeforeBiasCorrection(RootedAdamDefect):
    """eps_root added to the raw v before the bias correction, sqrt((v + eps_root) / (1 -
    beta2^t)) + eps (as a second moment stored with the constant folded in reads), where the
    reading adds it to v_hat: early on the constant is 1 / (1 - beta2^t) times too large."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("theta",))

    def denominator(self, v: torch.Tensor, c: Coefficients, h: Hyper) -> torch.Tensor:
        return ((v + self.convention.eps_root) * c.inv_bc2).sqrt().add_(h.eps)


class AdamWDecayUnscaled(AdamWDefect):
    """Decoupled decay multiplies theta by 1 - wd, without lr."""

    shows = Shows("test_weight_decay_follows_the_convention", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        return c if c.decay is None else replace(c, decay=1.0 - h.weight_decay)


class AdamWDecayAfterUpdate(AdamWDefect):
    """theta is decayed after the Adam update instead of before it."""

    shows = Shows("test_weight_decay_follows_the_convention", ("theta",))

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        super().update(param, state, replace(c, decay=None), h)
        if c.decay is not None:
            param.mul_(c.decay)


class AdamEpsZeroReplaced(AdamDefect):
    """eps = 0 is replaced by 1e-7 (as Keras' ``epsilon or backend.epsilon()`` does)."""

    shows = Shows("test_adam_steps_with_eps_zero_do_not_depend_on_the_gradient_scale",
                  ("theta",))

    def denominator(self, v: torch.Tensor, c: Coefficients, h: Hyper) -> torch.Tensor:
        return super().denominator(v, c, replace(h, eps=h.eps or 1e-7))


class AMSGradMaximumNotRead(AMSGradDefect):
    """The running maximum is kept, but the denominator reads v itself: Adam's step, which
    differs once v falls below its earlier maximum (and, with L2 decay, theta's error reaches
    the moments)."""

    shows = Shows("test_trajectories_stay_within_the_global_bound", ("theta", "m", "v"))

    def maximum(self, state: dict[str, Any], c: Coefficients) -> torch.Tensor:
        super().maximum(state, c)
        v: torch.Tensor = state["exp_avg_sq"]
        return v


class AMSGradMaximumOfVHat(AMSGradDefect):
    """The maximum is taken of v_hat = v / (1 - beta2^t) (optax's order) where the reading
    verified keeps the maximum of v and bias-corrects it afterwards: the maximum held is
    v_hat's."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("v_max", "theta"))

    def maximum(self, state: dict[str, Any], c: Coefficients) -> torch.Tensor:
        hat = state["exp_avg_sq"] * c.inv_bc2
        torch.maximum(state["max_exp_avg_sq"], hat, out=state["max_exp_avg_sq"])
        v: torch.Tensor = state["max_exp_avg_sq"] / c.inv_bc2  # the denominator divides again
        return v


class AMSGradMaximumNotSaved(AMSGradDefect):
    """The running maximum lives outside the optimizer's state, so a saved and reloaded
    optimizer starts its maximum again from zero."""

    shows = Shows("test_state_dict_round_trip_continues_exactly", ("state_dict",))

    def init_state(self, param: torch.Tensor) -> dict[str, Any]:
        state = super().init_state(param)
        self.__dict__.setdefault("maxima", {})[id(param)] = state.pop("max_exp_avg_sq")
        return state

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        maxima = self.__dict__.setdefault("maxima", {})
        held = maxima.setdefault(id(param), torch.zeros_like(param))
        super().update(param, {**state, "max_exp_avg_sq": held}, c, h)


ADAM_CATALOGUE: dict[str, type[Defect]] = {
    cls.__name__: cls for cls in (
        AdamNoSecondBiasCorrection, AdamEpsBesideRawRoot, AdamBiasCorrectionsInFloat32,
        AdamEpsRootBeforeBiasCorrection,
        AdamWDecayUnscaled, AdamWDecayAfterUpdate, AdamEpsZeroReplaced,
        AMSGradMaximumNotRead, AMSGradMaximumOfVHat, AMSGradMaximumNotSaved,
    )
}
