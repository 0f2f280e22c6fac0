"""The private mpmath contexts and exact conversions from binary floats.

radam-verify never touches the global ``mpmath.mp``: all exact work happens in the
contexts made here. A Python float (or a float32 value) converts to mpf exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Literal

import mpmath
import numpy as np
from mpmath.ctx_iv import MPIntervalContext

HyperRounding = Literal["float64", "float32"]

#: Default working precision of the mpmath trajectory, in bits (binary64 has 53).
DEFAULT_PRECISION_BITS = 128

real = mpmath.MPContext()
real.prec = DEFAULT_PRECISION_BITS
interval = MPIntervalContext()


@contextmanager
def interval_precision(bits: int) -> Iterator[MPIntervalContext]:
    """The private interval context at ``bits`` bits, restored afterwards."""
    saved = interval.prec
    interval.prec = bits
    try:
        yield interval
    finally:
        interval.prec = saved


def as_binary(value: float, rounding: HyperRounding = "float64") -> float:
    """``value`` as the binary number an implementation holds: itself, or rounded to float32
    (inf beyond its range, which the callers report as out of the reading's domain)."""
    if rounding == "float32":
        with np.errstate(over="ignore"):
            return float(np.float32(value))
    return float(value)


def fraction(value: float) -> Fraction:
    """The exact rational value of a binary float."""
    return Fraction(value)


def interval_bounds(x: object) -> tuple[mpmath.mpf, mpmath.mpf]:
    """Lower and upper end of an interval as mpf in the real context (exact)."""
    lo, hi = x._mpi_  # type: ignore[attr-defined]
    return real.make_mpf(lo), real.make_mpf(hi)
