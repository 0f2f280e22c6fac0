"""radam-verify: exact numerical verification of the RAdam optimizer.

Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020.

The public facade: conventions, the exact schedule and the derivation. Heavy modules
(SymPy, torch) load only when used.
"""

from __future__ import annotations

from radam_verify.conventions import PRESETS, Convention, parse_convention
from radam_verify.errors import (
    ConventionError,
    OutOfDomainError,
    RadamVerifyError,
    UndecidedError,
    UsageError,
)
from radam_verify.schedule import ScheduleStep, first_rectified_step, schedule_step

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "Convention",
    "ConventionError",
    "OutOfDomainError",
    "RadamVerifyError",
    "ScheduleStep",
    "UndecidedError",
    "UsageError",
    "__version__",
    "first_rectified_step",
    "parse_convention",
    "schedule_step",
]
