"""The defect catalogue: RAdam implementations that are each wrong in exactly one way.

Every class is :class:`~radam_verify.impls.torch_radam.ConventionRAdam` (pytorch
convention) with one stage overridden. The conformance suite must reject every one
(``tests/test_catalogue.py`` runs it on each and prints the mutation score). They
include the two false statements of the derivation (``AdamStepBelowThreshold``,
``WrongRectifier``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from radam_verify.coefficients import Coefficients, textbook_coefficients
from radam_verify.hyper import Hyper
from radam_verify.impls.torch_radam import ConventionRAdam


class AdamStepBelowThreshold(ConventionRAdam):
    """False statement: "if rho_t <= 5 then r_t = 1 and take the Adam step"."""

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        if c.rectified:
            return c
        bc1, bc2 = 1 - h.beta1**t, 1 - h.beta2**t
        return replace(c, rectified=True, updates=True, r_t=1.0,
                       coeff=h.lr * math.sqrt(bc2) / bc1)


class WrongRectifier(ConventionRAdam):
    """False statement: r_t = sqrt((rho_t-4)(rho_inf-4)/((rho_inf-2) rho_t)) (its limit is not 1)."""

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        if not c.rectified:
            return c
        rho_inf = 2 / (1 - h.beta2) - 1
        rho_t = rho_inf - 2 * t * h.beta2**t / (1 - h.beta2**t)
        r = math.sqrt((rho_t - 4) * (rho_inf - 4) / ((rho_inf - 2) * rho_t))
        return replace(c, coeff=c.coeff / c.r_t * r, r_t=r)


class ThresholdOnStepCount(ConventionRAdam):
    """Rectifies when the step count t exceeds 5 instead of rho_t."""

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        if (t > 5) == c.rectified:
            return c
        bc1, bc2 = 1 - h.beta1**t, 1 - h.beta2**t
        if t > 5:
            rho_inf = 2 / (1 - h.beta2) - 1
            rho_t = rho_inf - 2 * t * h.beta2**t / bc2
            square = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            r = math.sqrt(abs(square))
            return replace(c, rectified=True, updates=True, r_t=r, coeff=h.lr * r * math.sqrt(bc2) / bc1)
        return replace(c, rectified=False, updates=True, r_t=1.0, coeff=h.lr / bc1)


class NoSecondBiasCorrection(ConventionRAdam):
    """The factor sqrt(1 - beta2^t) is missing from the rectified step."""

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        return replace(c, coeff=c.coeff / math.sqrt(1 - h.beta2**t)) if c.rectified else c


class NoFirstBiasCorrection(ConventionRAdam):
    """m is not divided by 1 - beta1^t."""

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        return replace(c, coeff=c.coeff * (1 - h.beta1**t))


class EpsInsideSqrt(ConventionRAdam):
    """eps added under the square root: sqrt(v + eps)."""

    def denominator(self, v: torch.Tensor, c: Coefficients, h: Hyper) -> torch.Tensor:
        return (v + h.eps).sqrt()


class SwappedBetas(ConventionRAdam):
    """beta1 and beta2 exchanged in the moment updates."""

    def moments(self, state: dict[str, Any], grad: torch.Tensor, h: Hyper) -> None:
        super().moments(state, grad, replace(h, beta1=h.beta2, beta2=h.beta1))


class StateOutsideStateDict(ConventionRAdam):
    """The step counter lives in an attribute of the optimizer, not in its state_dict."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counters: dict[int, int] = {}

    def count(self, state: dict[str, Any]) -> int:
        key = id(state["exp_avg"])
        self.counters[key] = self.counters.get(key, 0) + 1
        state["step"] = self.counters[key]
        return self.counters[key]


class LowPrecisionSecondMoment(ConventionRAdam):
    """The second moment is stored in bfloat16."""

    def init_state(self, param: torch.Tensor) -> dict[str, Any]:
        state = super().init_state(param)
        state["exp_avg_sq"] = state["exp_avg_sq"].to(torch.bfloat16)
        return state

    def denominator(self, v: torch.Tensor, c: Coefficients, h: Hyper) -> torch.Tensor:
        return super().denominator(v.to(torch.float32), c, h)


class Float32Schedule(ConventionRAdam):
    """rho_inf, rho_t, r_t and the bias corrections evaluated in float32."""

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        f = torch.float32
        b1, b2, step = (torch.tensor(x, dtype=f) for x in (h.beta1, h.beta2, float(t)))
        bc1, bc2 = 1 - b1**step, 1 - b2**step
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * step * b2**step / bc2
        c = textbook_coefficients(t, h, self.convention)
        if rho_t > self.convention.threshold:
            r = torch.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            return replace(c, rectified=True, updates=True, r_t=float(r),
                           coeff=float(h.lr * r * torch.sqrt(bc2) / bc1))
        return replace(c, rectified=False, updates=True, r_t=1.0, coeff=float(h.lr / bc1))


class PerGroupHyperparametersIgnored(ConventionRAdam):
    """Every group uses the constructor's defaults instead of its own hyperparameters."""

    def hyper(self, group: dict[str, Any]) -> Hyper:
        return super().hyper({**group, **self.defaults})


class GradientModifiedInPlace(ConventionRAdam):
    """Weight decay and maximize are applied to param.grad in place."""

    def gradient(self, param: torch.Tensor, h: Hyper) -> torch.Tensor:
        assert param.grad is not None
        grad = param.grad
        if h.maximize:
            grad.neg_()
        if h.weight_decay != 0.0:
            grad.add_(param, alpha=h.weight_decay)
        return grad


class DecayAfterUpdate(ConventionRAdam):
    """With L2 weight decay requested, decays the parameter after the update instead."""

    def gradient(self, param: torch.Tensor, h: Hyper) -> torch.Tensor:
        assert param.grad is not None
        return -param.grad if h.maximize else param.grad

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        super().update(param, state, c, h)
        param.mul_(1 - h.lr * h.weight_decay)


class StepCountAdvancesWithoutGradient(ConventionRAdam):
    """The step counter is kept per group and advances for tensors without a gradient."""

    @torch.no_grad()
    def step(self, closure: Any = None) -> float | None:  # type: ignore[override]
        for group in self.param_groups:
            group["group_step"] = group.get("group_step", 0) + 1
            for param in group["params"]:
                if param.grad is not None:
                    state = self.state[param]
                    if not state:
                        state.update(self.init_state(param))
                    state["step"] = group["group_step"] - 1
        return super().step(closure)


class OffByOneStep(ConventionRAdam):
    """The schedule uses the step count before incrementing it (t - 1)."""

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        return super().coefficients(max(t - 1, 1), h)


class MaximizeIgnored(ConventionRAdam):
    """Accepts maximize but always descends."""

    def hyper(self, group: dict[str, Any]) -> Hyper:
        return replace(super().hyper(group), maximize=False)


class RectifierNotSquareRooted(ConventionRAdam):
    """Uses r_t^2 (the variance ratio) instead of r_t."""

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        return replace(c, coeff=c.coeff * c.r_t, r_t=c.r_t**2) if c.rectified else c


CATALOGUE: dict[str, type[ConventionRAdam]] = {
    cls.__name__: cls for cls in (
        AdamStepBelowThreshold, WrongRectifier, ThresholdOnStepCount, NoSecondBiasCorrection,
        NoFirstBiasCorrection, EpsInsideSqrt, SwappedBetas, StateOutsideStateDict,
        LowPrecisionSecondMoment, Float32Schedule, PerGroupHyperparametersIgnored,
        GradientModifiedInPlace, DecayAfterUpdate, StepCountAdvancesWithoutGradient,
        OffByOneStep, MaximizeIgnored, RectifierNotSquareRooted,
    )
}
