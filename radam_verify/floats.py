"""Float facts: unit roundoff, underflow error, ulps of a scale."""

from __future__ import annotations

from dataclasses import dataclass, replace

import ml_dtypes  # registers bfloat16 with numpy
import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Limits:
    """A format's range: its largest finite value, smallest subnormal and smallest normal."""

    max: float
    smallest_subnormal: float
    smallest_normal: float


def finfo(numpy_type: type[np.floating] | np.dtype[np.floating]) -> Limits:
    """The range of any numpy float type, bfloat16 included (``ml_dtypes.finfo``)."""
    info = ml_dtypes.finfo(numpy_type)  # type: ignore[no-untyped-call]
    return Limits(float(info.max), float(info.smallest_subnormal), float(info.smallest_normal))


@dataclass(frozen=True)
class Format:
    """A binary floating-point format: unit roundoff ``u`` and the absolute underflow error."""

    name: str
    u: float  # half an ulp of 1, relative rounding error of one operation
    eta: float  # half the smallest subnormal: absolute error of a result that underflows
    numpy_type: type[np.floating]
    #: arithmetic that flushes subnormal results and operands to zero (a platform's FTZ/DAZ
    #: mode); eta is then the smallest normal number (error-model.md, section 10)
    flushes: bool = False

    def flushing(self) -> Format:
        """This format on a platform that flushes subnormals to zero: a result or operand
        below the smallest normal number N may become 0, an absolute error below N, so eta
        is N (in a format computed through binary32, N plus binary32's smallest normal)."""
        wider = 2.0**-126 if self.narrow else 0.0
        return replace(self, eta=self.smallest_normal + wider, flushes=True)

    def gamma(self, k: int) -> float:
        """Higham's gamma_k = k u / (1 - k u): the error of k chained roundings."""
        return k * self.u / (1 - k * self.u)

    @property
    def largest(self) -> float:
        """The largest finite value."""
        return finfo(self.numpy_type).max

    @property
    def smallest_subnormal(self) -> float:
        return finfo(self.numpy_type).smallest_subnormal

    @property
    def smallest_normal(self) -> float:
        return finfo(self.numpy_type).smallest_normal

    @property
    def narrow(self) -> bool:
        """Narrower than binary32: carried through numpy and torch as exact float32 values."""
        return self.u > 2.0**-24

    def ulp(self, scale: Array) -> Array:
        """One ulp of ``scale`` in this format (the spacing at |scale|; subnormal spacing at 0)."""
        typed = np.abs(scale).astype(self.numpy_type)
        bits = _SAME_WIDTH.get(np.dtype(self.numpy_type))
        if bits is None:
            return np.spacing(typed).astype(np.float64)
        # the next number up minus this one (exact), several times faster than np.spacing
        # and equal to it on |x| for every float16 and float32 (all 2^32 bit patterns were
        # compared), NaN for NaN and inf
        up = (np.asarray(typed).view(bits) + bits(1)).view(self.numpy_type)
        with np.errstate(invalid="ignore"):  # above inf is a signalling NaN
            difference: Array = up - typed
        return difference.astype(np.float64)


#: the integers as wide as a format whose spacing is taken from the bits (``Format.ulp``;
#: ``tests/test_floats.py`` compares with np.spacing on every float16 and on float32's
#: boundaries and random bit patterns)
_SAME_WIDTH: dict[np.dtype[np.floating], type[np.signedinteger]] = {
    np.dtype(np.float16): np.int16, np.dtype(np.float32): np.int32}


FLOAT32 = Format("float32", 2.0**-24, 2.0**-150, np.float32)
# eta is half the smallest subnormal; for binary64 that is not representable, so the bound
# uses the smallest subnormal itself (a slightly larger, still valid bound).
FLOAT64 = Format("float64", 2.0**-53, 2.0**-1074, np.float64)
#: The formats below binary32 (derivations/error-model.md, section 9). Their arithmetic is
#: an operation evaluated in binary32 (torch's CPU kernels and ml_dtypes compute a bfloat16
#: or float16 operation in float32, "opmath") and rounded to the format: two roundings, so
#: the relative error of one operation is at most u + u32 (1 + u), and a result that
#: underflows is off by at most eta + eta32.
U32, ETA32 = 2.0**-24, 2.0**-150
BFLOAT16 = Format("bfloat16", 2.0**-8 + U32 * (1 + 2.0**-8), 2.0**-134 + ETA32,
                  ml_dtypes.bfloat16)
FLOAT16 = Format("float16", 2.0**-11 + U32 * (1 + 2.0**-11), 2.0**-25 + ETA32, np.float16)
FORMATS = {"float32": FLOAT32, "float64": FLOAT64, "bfloat16": BFLOAT16, "float16": FLOAT16}
