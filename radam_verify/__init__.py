"""radam-verify: exact numerical verification of the RAdam optimizer.

Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020.

The public facade: conventions, the exact schedule, the reference, the adapters and the
identification. Names load on first use, so importing the package (as pytest does for the
plugin) stays cheap; SymPy, mpmath and torch load only when needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "PRESETS": "radam_verify.conventions",
    "Convention": "radam_verify.conventions",
    "parse_convention": "radam_verify.conventions",
    "ConventionError": "radam_verify.errors",
    "OutOfDomainError": "radam_verify.errors",
    "RadamVerifyError": "radam_verify.errors",
    "UndecidedError": "radam_verify.errors",
    "UsageError": "radam_verify.errors",
    "Hyper": "radam_verify.hyper",
    "ScheduleStep": "radam_verify.schedule",
    "first_rectified_step": "radam_verify.schedule",
    "schedule_step": "radam_verify.schedule",
    "ExactState": "radam_verify.reference",
    "exact_step": "radam_verify.reference",
    "exact_trajectory": "radam_verify.reference",
    "judge_trajectory": "radam_verify.judge",
    "load_adapter": "radam_verify.adapters",
    "identify": "radam_verify.identify",
}

__all__ = [
    "PRESETS",
    "Convention",
    "ConventionError",
    "ExactState",
    "Hyper",
    "OutOfDomainError",
    "RadamVerifyError",
    "ScheduleStep",
    "UndecidedError",
    "UsageError",
    "__version__",
    "exact_step",
    "exact_trajectory",
    "first_rectified_step",
    "identify",
    "judge_trajectory",
    "load_adapter",
    "parse_convention",
    "schedule_step",
]

if TYPE_CHECKING:
    from radam_verify.adapters import load_adapter
    from radam_verify.conventions import PRESETS, Convention, parse_convention
    from radam_verify.errors import (
        ConventionError,
        OutOfDomainError,
        RadamVerifyError,
        UndecidedError,
        UsageError,
    )
    from radam_verify.hyper import Hyper
    from radam_verify.identify import identify
    from radam_verify.judge import judge_trajectory
    from radam_verify.reference import ExactState, exact_step, exact_trajectory
    from radam_verify.schedule import ScheduleStep, first_rectified_step, schedule_step


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'radam_verify' has no attribute {name!r}")
