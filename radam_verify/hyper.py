"""Hyperparameters of one parameter group, in the paper's names."""

from __future__ import annotations

import math
from dataclasses import dataclass

from radam_verify.errors import UsageError


@dataclass(frozen=True)
class Hyper:
    """lr (alpha), beta1, beta2, eps, weight decay and maximize for one parameter group."""

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    maximize: bool = False

    def __post_init__(self) -> None:
        checks = [
            ("lr", self.lr, self.lr >= 0.0 and math.isfinite(self.lr), "a finite number >= 0"),
            ("beta1", self.beta1, 0.0 <= self.beta1 < 1.0, "a number in [0, 1)"),
            ("beta2", self.beta2, 0.0 <= self.beta2 < 1.0, "a number in [0, 1)"),
            ("eps", self.eps, self.eps >= 0.0 and math.isfinite(self.eps), "a finite number >= 0"),
            ("weight_decay", self.weight_decay,
             self.weight_decay >= 0.0 and math.isfinite(self.weight_decay), "a finite number >= 0"),
        ]
        for name, value, ok, expected in checks:
            if not ok:
                raise UsageError(f"{name}={value!r} is invalid; pass {expected}")
