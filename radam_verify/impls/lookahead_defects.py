"""Lookahead's part of the defect catalogue, and the correct Ranger each defect varies.

:class:`ConventionRanger` is :class:`~radam_verify.impls.torch_radam.ConventionRAdam` under the
``ranger`` preset (pytorch-ranger's reading: RAdam with decoupled decay, then Lookahead with
k = 6 and alpha = 0.5 over slow weights ``slow_buffer`` that start at theta). Each defect
overrides one stage; ``shows`` names the property that must reject it and the quantity it
must find different, as for RAdam's defects (``tests/test_catalogue.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

import torch

from radam_verify.impls.defects import Defect, Shows
from radam_verify.impls.torch_radam import ConventionRAdam


class ConventionRanger(ConventionRAdam):
    """Ranger as pytorch-ranger reads it (the ``ranger`` preset), or any Lookahead reading."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.95, 0.999), eps: float = 1e-5,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str = "ranger") -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)


class RangerDefect(ConventionRanger, Defect):
    """A Ranger defect: verified against the ``ranger`` preset, shown against
    ConventionRanger."""

    verify_convention: ClassVar[str] = "ranger"
    correct: ClassVar[str] = f"{__name__}:ConventionRanger"


class LookaheadSyncOneStepLate(RangerDefect):
    """The sync runs after steps k + 1, 2k + 1, ... (a counter compared after it is
    advanced where the reading compares it before)."""

    shows = Shows("test_lookahead_cycles_follow_the_exact_fast_and_slow_weights",
                  ("slow", "theta"))

    def lookahead(self, param: torch.Tensor, state: dict[str, Any], t: int) -> None:
        if t > 1:
            super().lookahead(param, state, t - 1)


class LookaheadFastNotReset(RangerDefect):
    """At a sync the slow weights move towards theta, but theta is left where the inner
    optimizer put it instead of becoming the slow weights."""

    shows = Shows("test_lookahead_cycles_follow_the_exact_fast_and_slow_weights", ("theta",))

    def lookahead(self, param: torch.Tensor, state: dict[str, Any], t: int) -> None:
        kept = param.detach().clone()
        super().lookahead(param, state, t)
        param.copy_(kept)


class LookaheadSlowWeightsNotSaved(RangerDefect):
    """The slow weights live outside the optimizer's state, so a saved and reloaded optimizer
    starts them again from the parameters it is given."""

    shows = Shows("test_state_dict_round_trip_continues_exactly", ("state_dict",))

    def init_state(self, param: torch.Tensor) -> dict[str, Any]:
        state = super().init_state(param)
        self.__dict__.setdefault("slow", {})[id(param)] = state.pop("slow_buffer")
        return state

    def lookahead(self, param: torch.Tensor, state: dict[str, Any], t: int) -> None:
        slow = self.__dict__.setdefault("slow", {})
        held = slow.setdefault(id(param), param.detach().clone())
        super().lookahead(param, {**state, "slow_buffer": held}, t)


#: torch-optimizer's Lookahead over RAdam, counted per group with every tensor synced
GROUP_ALL = "pytorch,lookahead_k=3,lookahead_start=first-step,lookahead_count=group-all"


class ConventionGroupLookahead(ConventionRAdam):
    """Lookahead over RAdam counted per group, every tensor of the group synced on the
    group's sync steps (torch-optimizer's reading, with k = 3)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, maximize: bool = False,
                 convention: str = GROUP_ALL) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, maximize, convention)


class LookaheadGradlessTensorsPassedOver(ConventionGroupLookahead, Defect):
    """The group's sync passes over the tensors without a gradient on that step (timm's and
    pytorch-optimizer's reading) where the reading syncs every tensor of the group: a
    tensor that misses a sync step keeps its fast weights until its next one."""

    verify_convention: ClassVar[str] = GROUP_ALL
    correct: ClassVar[str] = f"{__name__}:ConventionGroupLookahead"
    shows = Shows("test_parameter_groups_keep_their_own_hyperparameters", ("theta", "slow"))

    def group_lookahead(self, group: dict[str, Any]) -> None:
        held = self.convention
        self.convention = replace(held, lookahead_count="group")
        try:
            super().group_lookahead(group)
        finally:
            self.convention = held


LOOKAHEAD_CATALOGUE: dict[str, type[Defect]] = {
    cls.__name__: cls for cls in (
        LookaheadSyncOneStepLate, LookaheadFastNotReset, LookaheadSlowWeightsNotSaved,
        LookaheadGradlessTensorsPassedOver,
    )
}
