"""Running powers' part of the defect catalogue, and the correct implementation it varies.

:class:`ConventionRunningPowers` is :class:`~radam_verify.impls.torch_radam.ConventionRAdam`
under ``pytorch,powers=running``: its bias corrections and rho_t come from the products of
the betas of every step a tensor took, as PaddlePaddle's ``beta1_pow`` and ``beta2_pow``
accumulators hold them. The two readings differ only once a schedule changes a beta, which
property 20 (hyperparameters set between steps) draws.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

from radam_verify.hyper import Hyper
from radam_verify.impls.defects import Defect, Shows
from radam_verify.impls.torch_radam import ConventionRAdam

RUNNING = "pytorch,powers=running"


class ConventionRunningPowers(ConventionRAdam):
    """RAdam (the pytorch preset) with running powers of the betas."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str = RUNNING) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)


class RunningPowersOfTheFirstBetas(ConventionRunningPowers, Defect):
    """The powers are advanced by the betas the tensor's first step used (taken when its
    accumulators are created), while the moments use the betas a schedule sets later."""

    verify_convention: ClassVar[str] = RUNNING
    correct: ClassVar[str] = f"{__name__}:ConventionRunningPowers"
    shows = Shows("test_hyperparameters_set_between_steps_take_effect", ("theta",))

    def powers(self, state: dict[str, Any], t: int, h: Hyper) -> tuple[float, float]:
        beta1, beta2 = state.setdefault("first_betas", (h.beta1, h.beta2))
        return super().powers(state, t, replace(h, beta1=beta1, beta2=beta2))


POWERS_CATALOGUE: dict[str, type[Defect]] = {
    cls.__name__: cls for cls in (RunningPowersOfTheFirstBetas,)
}
