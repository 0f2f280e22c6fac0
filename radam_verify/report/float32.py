"""rho_t evaluated in float32, two ways, against the exact value: the cost of cancellation.

The textbook form rho_inf - 2 t b2^t / (1 - b2^t) subtracts two numbers close to
2/(1 - b2) when t (1 - b2) is small, so as b2 approaches 1 its float32 value loses every
correct digit. The cancellation-free form of the derivation (claim
``rho-cancellation-free``), sum_{k<t} (2k+1) b2^k / sum_{k<t} b2^k, is a weighted mean
of 1, 3, ..., 2t-1 and keeps full float32 accuracy. Every operation below is a numpy
float32 operation, and the powers b2^k are correctly rounded to float32; the exact value
is the certified schedule at the same float32 beta2.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
from numpy.typing import NDArray

from radam_verify.conventions import PRESETS
from radam_verify.schedule import schedule_step

#: 1 - beta2 as requested, before beta2 is rounded to float32: three points a decade.
GAPS = tuple(m * 10.0**-k for k in range(1, 8) for m in (5.0, 2.0, 1.0) if m * 10.0**-k <= 0.1)
#: The steps compared: t = 5, the last step below threshold 5 as b2 -> 1 (claim
#: first-rectified-step), where a wrong rho_t takes the wrong branch; and a late step.
STEPS = (5, 1000)
_EXACT = mpmath.MPContext()
_EXACT.prec = 128


@dataclass(frozen=True)
class Float32Rho:
    """rho_t at one (beta2, t): exact, and evaluated in float32 by the two forms."""

    requested_gap: float
    beta2: float
    t: int
    exact: mpmath.mpf
    textbook: float
    cancellation_free: float

    @property
    def gap(self) -> float:
        """1 - beta2 for the float32 beta2 actually used (exact: both are binary fractions)."""
        return 1.0 - self.beta2

    @property
    def textbook_error(self) -> float:
        """|textbook float32 value - exact rho_t|."""
        return float(abs(self.exact - self.textbook))

    @property
    def cancellation_free_error(self) -> float:
        """|cancellation-free float32 value - exact rho_t|."""
        return float(abs(self.exact - self.cancellation_free))

    @property
    def ulp(self) -> float:
        """The spacing of float32 numbers at the exact rho_t: the best error is half of it."""
        return float(np.spacing(np.float32(float(self.exact))))


def float32_powers(beta2: np.float32, exponents: NDArray[np.int64]) -> NDArray[np.float32]:
    """beta2^k for each k, rounded once from its exact value to float32 (round to nearest).

    That is what a correctly rounded float32 ``pow`` returns, the best any can do: the
    errors shown below are then those of the two forms, not of a ``pow`` implementation,
    and they are the same on every machine. (A power below float32's normal range is
    rounded twice, via binary64; such a weight is far below one ulp of any sum here.)
    """
    base = _EXACT.mpf(float(beta2))
    rounded = []
    for k in exponents:
        value = base ** int(k)
        with _EXACT.workprec(24):
            rounded.append(float(+value))
    return np.array(rounded, dtype=np.float32)


def textbook_rho_t(beta2: np.float32, t: int) -> np.float32:
    """rho_inf - 2 t b2^t / (1 - b2^t), every operation in float32."""
    one, two, step = np.float32(1), np.float32(2), np.float32(t)
    power = float32_powers(beta2, np.array([t]))[0]
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        rho_inf = two / (one - beta2) - one
        return np.float32(rho_inf - two * step * power / (one - power))


def cancellation_free_rho_t(beta2: np.float32, t: int) -> np.float32:
    """sum_{k<t} (2k+1) b2^k / sum_{k<t} b2^k, every operation in float32."""
    k = np.arange(t, dtype=np.float32)
    weights = float32_powers(beta2, np.arange(t))
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        odd = np.float32(2) * k + np.float32(1)
        numerator = np.sum(odd * weights, dtype=np.float32)
        denominator = np.sum(weights, dtype=np.float32)
        return np.float32(numerator / denominator)


def float32_rho(requested_gap: float, t: int) -> Float32Rho:
    """Both float32 evaluations and the exact rho_t for beta2 = float32(1 - requested_gap)."""
    beta2 = np.float32(1.0 - requested_gap)
    exact = schedule_step(t, 0.0, float(beta2), PRESETS["paper"]).rho_t
    return Float32Rho(
        requested_gap=requested_gap,
        beta2=float(beta2),
        t=t,
        exact=exact,
        textbook=float(textbook_rho_t(beta2, t)),
        cancellation_free=float(cancellation_free_rho_t(beta2, t)),
    )


def float32_rows(gaps: tuple[float, ...] = GAPS, steps: tuple[int, ...] = STEPS) -> list[Float32Rho]:
    """Every (t, 1 - beta2) pair, grouped by t."""
    return [float32_rho(gap, t) for t in steps for gap in gaps]
