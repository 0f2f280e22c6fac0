"""Double-double (double-word) arithmetic over numpy arrays, for the float64 fast reference.

A double-double number is an unevaluated sum hi + lo of two binary64 numbers with
|lo| <= ulp(hi) / 2: about 106 bits of significand in two float64 arrays, so that a whole
tensor's exact step is approximated with numpy's speed and an error about 2^-53 times
smaller than a binary64 implementation's. The building blocks are error-free
transformations (Knuth's TwoSum, Dekker's Fast2Sum, and Dekker's TwoProd with Veltkamp's
splitting, since numpy has no fused multiply-add), composed as in

    M. Joldes, J.-M. Muller, V. Popescu, "Tight and rigorous error bounds for basic
    building blocks of double-word arithmetic", ACM TOMS 44(2), 2017 (JMP below),

whose proven relative error bounds, with u = 2^-53 and barring underflow and overflow, are:
AccurateDWPlusDW (algorithm 6) 3u^2/(1 - 4u); DWPlusFP (algorithm 4) 2u^2; DWTimesFP1
(algorithm 7) 3u^2/2 + 4u^3; DWTimesDW1 (algorithm 10) 7u^2/(1 + u)^2 (we compute its
cross products without FMA, as that algorithm does); DWDivDW2 (algorithm 17) 15u^2 + 56u^3.
The square root is the classical one Newton correction of sqrt(hi) (QD's ``sqrt``,
analysed by Lefevre, Louvet, Muller, Picot and Rideau, "Accurate calculation of Euclidean
norms using double-word arithmetic", ACM TOMS 49(1), 2023: 25u^2/8).
:data:`DOUBLE_DOUBLE` states one bound for every operation, :data:`U_DD` = 16 u^2, above
all of these, so that the error model of :mod:`radam_verify.tolerance` applies to a step
evaluated here with ``fmt = DOUBLE_DOUBLE`` (derivations/error-model.md, section 6).

Underflow: TwoSum and Fast2Sum stay exact; a product below the normal range loses at most
half a subnormal unit, and every operation here makes at most eight such products or
quotients whose errors reach its result undivided, or divided by the divisor's high part,
which the error model's absolute terms already divide by (eta / den). :data:`ETA_DD` is eight
subnormal units. Overflow: Veltkamp's split of a value above 2^996 overflows, and so can a
partial product of a product just below the largest binary64 number; either leaves a NaN
or an infinity where the exact value may be finite, so a double-double that is not finite
is not certified (:func:`certified`) and the caller judges that tensor exactly instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from radam_verify.floats import Array, Format

#: the relative error bound of every operation below: 16 u^2 = 2^-102 (module docstring)
U_DD = 2.0**-102
#: the absolute error of an operation whose low parts underflow: eight subnormal units
ETA_DD = 8 * 2.0**-1074
#: double-double as a format of the error model: its u and eta; its range is binary64's
DOUBLE_DOUBLE = Format("double-double", U_DD, ETA_DD, np.float64)

_SPLITTER = 2.0**27 + 1.0  # Veltkamp's constant for binary64: 53 = 26 + 27


@dataclass(frozen=True)
class DD:
    """Arrays of double-double numbers: the value of element i is hi[i] + lo[i], exactly."""

    hi: Array
    lo: Array

    @classmethod
    def of(cls, values: npt.ArrayLike) -> DD:
        """Binary64 values as double-doubles (exact: the low parts are zero)."""
        hi = np.asarray(values, dtype=np.float64)
        return cls(hi, np.zeros_like(hi))

    def __neg__(self) -> DD:
        return DD(-self.hi, -self.lo)


def _rsub(a: Array, t: Array) -> Array:
    """a - t, written over ``t`` where it is an array of its own (an intermediate)."""
    if isinstance(t, np.ndarray) and t.ndim:
        return np.subtract(a, t, out=t)
    return a - t


def two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    """s + e = a + b exactly, s = fl(a + b) (Knuth; any magnitudes)."""
    s = a + b
    bb = s - a
    e = _rsub(a, s - bb)  # a - (s - bb)
    e += _rsub(b, bb)  # b - bb
    return s, e


def fast_two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    """s + e = a + b exactly, s = fl(a + b), where |a| >= |b| or a is 0 (Dekker)."""
    s = a + b
    return s, _rsub(b, s - a)


def split(a: Array) -> tuple[Array, Array]:
    """a = hi + lo exactly, each with at most 26 significant bits (Veltkamp)."""
    c = _SPLITTER * a
    hi = _rsub(c, c - a)  # c - (c - a)
    return hi, a - hi


def two_prod(a: Array, b: Array, a_split: tuple[Array, Array] | None = None,
             b_split: tuple[Array, Array] | None = None) -> tuple[Array, Array]:
    """p + e = a b exactly, p = fl(a b), barring underflow of e (Dekker). ``a_split``,
    ``b_split``: :func:`split` of a and of b where they are known already."""
    p = a * b
    ah, al = split(a) if a_split is None else a_split
    bh, bl = split(b) if b_split is None else b_split
    e = ah * bh
    e -= p
    e += ah * bl
    e += al * bh
    e += al * bl
    return p, e


def add(x: DD, y: DD) -> DD:
    """x + y (JMP algorithm 6, AccurateDWPlusDW)."""
    sh, sl = two_sum(x.hi, y.hi)
    th, tl = two_sum(x.lo, y.lo)
    sl += th
    vh, vl = fast_two_sum(sh, sl)
    vl += tl  # tl + vl
    return DD(*fast_two_sum(vh, vl))


def add_fp(x: DD, b: Array | float) -> DD:
    """x + b for binary64 b (JMP algorithm 4, DWPlusFP)."""
    sh, sl = two_sum(x.hi, np.asarray(b, dtype=np.float64))
    return DD(*fast_two_sum(sh, x.lo + sl))


def mul_fp(x: DD, b: Array | float, x_split: tuple[Array, Array] | None = None) -> DD:
    """x b for binary64 b (JMP algorithm 7, DWTimesFP1); ``x_split``: :func:`split` of
    x.hi where it is known."""
    b = np.asarray(b, dtype=np.float64)
    ch, cl1 = two_prod(x.hi, b, x_split)
    th, tl1 = fast_two_sum(ch, x.lo * b)
    tl1 += cl1
    return DD(*fast_two_sum(th, tl1))


def mul(x: DD, y: DD, x_split: tuple[Array, Array] | None = None,
        y_split: tuple[Array, Array] | None = None) -> DD:
    """x y (JMP algorithm 10, DWTimesDW1); ``x_split``, ``y_split``: :func:`split` of x.hi
    and y.hi where they are known."""
    ch, cl1 = two_prod(x.hi, y.hi, x_split, y_split)
    cl2 = x.hi * y.lo
    cl2 += x.lo * y.hi
    cl1 += cl2
    return DD(*fast_two_sum(ch, cl1))


def mul_exact_lo(x: Array, y: DD, x_split: tuple[Array, Array] | None = None,
                 y_split: tuple[Array, Array] | None = None) -> DD:
    """:func:`mul` of the double-double x + 0 (its low part 0) and y, the same value bit
    for bit with two operations fewer: its term 0 y.hi is +0 for a finite y.hi, and the
    error term of TwoProd it is added to is never -0 (a sign of p and of ah bh agree), so
    adding that zero changes nothing."""
    ch, cl1 = two_prod(x, y.hi, x_split, y_split)
    cl1 += x * y.lo
    return DD(*fast_two_sum(ch, cl1))


def square_exact_lo(x: Array, x_split: tuple[Array, Array] | None = None) -> DD:
    """:func:`mul` of the double-double x + 0 by itself, bit for bit: its cross terms
    x 0 + 0 x are zeros for a finite x (their sum added to the never -0 error term of
    TwoProd changes nothing) and NaN only where x is not finite, where that error term is
    NaN already."""
    ch, cl1 = two_prod(x, x, x_split, x_split)
    return DD(*fast_two_sum(ch, cl1))


def div(x: DD, y: DD) -> DD:
    """x / y (JMP algorithm 17, DWDivDW2): one quotient, its residual, one correction."""
    th = x.hi / y.hi
    r = mul_fp(y, th)
    delta = (x.hi - r.hi) + (x.lo - r.lo)
    return DD(*fast_two_sum(th, delta / y.hi))


def sqrt(x: DD) -> DD:
    """sqrt(x) for x >= 0: sqrt(hi) and one Newton correction, (x - s^2) / (2 s)."""
    s = np.sqrt(x.hi)
    ph, pl = two_prod(s, s)
    positive = s > 0
    correction = np.where(positive, ((x.hi - ph) - pl + x.lo) / np.where(positive, 2 * s, 1.0),
                          0.0)
    return DD(*fast_two_sum(s, correction))


def norm(x: DD) -> DD:
    """The Euclidean norm of all elements of x, as a 0-d double-double: the squares summed
    pairwise (each level one vectorised :func:`add`, ceil(log2 n) levels), then
    :func:`sqrt`; every operation within :data:`U_DD` relative, so the sum is within
    gamma_n(U_DD) of exact as a chained sum would be."""
    flat = DD(np.ravel(x.hi), np.ravel(x.lo))
    largest = float(np.max(np.abs(flat.hi), initial=0.0))
    if largest == 0 or not np.isfinite(largest):
        return DD(np.asarray(largest), np.asarray(0.0))
    # scaled by a power of two (exact) so that the largest square is near 1: none overflows,
    # and a square that underflows is below 2^-1000 of the sum, far inside the relative
    # bound (each operation's error is below 3 u^2 = 2^-104.4 relative, U_DD is 2^-102)
    shift = -int(np.frexp(largest)[1])
    flat = DD(np.ldexp(flat.hi, shift), np.ldexp(flat.lo, shift))
    total = mul(flat, flat)
    while total.hi.size > 1:
        if total.hi.size % 2:
            total = DD(np.append(total.hi, 0.0), np.append(total.lo, 0.0))
        total = add(DD(total.hi[0::2], total.lo[0::2]), DD(total.hi[1::2], total.lo[1::2]))
    root = sqrt(DD(total.hi.reshape(()), total.lo.reshape(())))
    return DD(np.ldexp(root.hi, -shift), np.ldexp(root.lo, -shift))


def maximum(x: DD, y: DD) -> DD:
    """The larger of x and y, elementwise (exact: one of them). Normalised double-doubles
    (hi = RN(hi + lo)) compare as (hi, lo) pairs, since rounding to nearest is monotonic."""
    first = (x.hi > y.hi) | ((x.hi == y.hi) & (x.lo >= y.lo))
    return DD(np.where(first, x.hi, y.hi), np.where(first, x.lo, y.lo))


def certified_elements(x: DD) -> npt.NDArray[np.bool_]:
    """Per element, whether the value is finite in both parts: from finite inputs, a NaN or
    an infinity comes from an overflow inside an error-free transformation (Veltkamp's
    split above 2^996, or a 26-bit partial product rounding above the largest binary64
    number while the product itself does not), so a non-finite double-double says nothing
    of the exact value (module docstring)."""
    return np.isfinite(x.hi) & np.isfinite(x.lo)


def certified(x: DD) -> bool:
    """Whether every element is :func:`certified_elements`."""
    return bool(certified_elements(x).all())


def from_exact(value: object) -> DD:
    """A scalar (an mpmath number of the exact schedule, or a float) as a double-double:
    binary64's nearest value and the nearest to the rest, a relative error at most about
    2^-106, below :data:`U_DD`."""
    from radam_verify.precision import real

    exact = real.mpf(value)
    hi = float(exact)
    return DD(np.asarray(hi), np.asarray(float(exact - hi)))
