"""The exact scalar schedule of RAdam: rho_inf, rho_t, r_t, bias corrections and the branch
(Adam's: the same bias corrections, every step rectified with r_t = 1 exactly).

Hyperparameters are taken at their exact binary value (binary64, or binary32 when the
caller says so). Every quantity is enclosed by interval arithmetic, and the working
precision is raised until the enclosure is narrower than the requested precision and
the branch decision ``rho_t > threshold`` (or ``>=``) is certain. Exact ties are decided
in rational arithmetic. Any ``t`` up to 10^9 and beyond costs O(log t).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import mpmath

from radam_verify.conventions import Convention
from radam_verify.errors import OutOfDomainError, UndecidedError, UsageError
from radam_verify.powers import Powers
from radam_verify.precision import (
    DEFAULT_PRECISION_BITS,
    HyperRounding,
    as_binary,
    interval_bounds,
    interval_precision,
    real,
)

_MAX_BITS = 1 << 15
_EXACT_TIE_MAX_T = 4096


@dataclass(frozen=True)
class ScheduleStep:
    """The scalars of step ``t`` (1-based), exact to ``precision_bits`` bits."""

    t: int
    rho_inf: mpmath.mpf
    rho_t: mpmath.mpf
    rectified: bool
    r_t: mpmath.mpf | None
    bias_correction1: mpmath.mpf
    bias_correction2: mpmath.mpf
    precision_bits: int
    #: RAdam's: r_t is computed from rho_t and the branch from the threshold; Adam's r_t is
    #: exactly 1 on every step, so neither carries an evaluation error
    rectifier: bool = True
    #: the convention's scalars are formed in binary32 (from betas rounded to binary32)
    float32_scalars: bool = False
    #: the reading divides m (v) by its bias correction (False: it is exactly 1, as in
    #: LAMB's first version, and carries no evaluation error)
    m_corrected: bool = True
    v_corrected: bool = True
    #: the reading's powers are running products, which an implementation forms by t
    #: multiplications (each rounded) rather than by one pow
    running_powers: bool = False


def _check_betas(beta1: float, beta2: float) -> None:
    if not 0.0 <= beta1 < 1.0:
        raise UsageError(f"beta1={beta1!r} is outside [0, 1); pass a value such as 0.9")
    if not 0.0 <= beta2 < 1.0:
        raise UsageError(f"beta2={beta2!r} is outside [0, 1); pass a value such as 0.999")


def _narrow(x: object, precision_bits: int) -> bool:
    """The enclosure pins ``x`` to ``precision_bits`` bits (relative), or it is exactly zero."""
    lo, hi = interval_bounds(x)
    return bool(hi - lo <= max(abs(lo), abs(hi)) * real.ldexp(1, -precision_bits - 4))


def _exact_sign(t: int, beta2: float, threshold: float) -> int:
    """Sign of rho_t - threshold in rational arithmetic (for ties intervals cannot split)."""
    if t > _EXACT_TIE_MAX_T:
        raise UndecidedError(
            f"cannot decide rho_t against {threshold} at t={t}, beta2={beta2!r}: the interval "
            f"enclosure did not separate them at {_MAX_BITS} bits"
        )
    b = Fraction(beta2)
    powers = [b**k for k in range(t)]
    numerator = sum((2 * k + 1) * p for k, p in enumerate(powers))
    denominator = sum(powers)
    diff = numerator - Fraction(threshold) * denominator
    return (diff > 0) - (diff < 0)


@functools.lru_cache(maxsize=4096)
def schedule_step(
    t: int,
    beta1: float,
    beta2: float,
    convention: Convention,
    *,
    precision_bits: int = DEFAULT_PRECISION_BITS,
    hyper_rounding: HyperRounding = "float64",
    powers: Powers | None = None,
) -> ScheduleStep:
    """The exact schedule at step ``t`` for ``convention``; the branch is certified.

    ``powers``: the running products (P1, P2) that stand for b1^t and b2^t where the
    reading forms its corrections from them and a schedule changed a beta
    (:mod:`radam_verify.powers`); rho_inf is the step's own beta2's."""
    if t < 1:
        raise UsageError(f"step t={t} must be >= 1 (steps are 1-based)")
    _check_betas(beta1, beta2)
    if convention.float32_scalars:  # the reading forms its scalars from binary32 betas
        hyper_rounding = "float32"
    b1 = as_binary(beta1, hyper_rounding)
    b2 = as_binary(beta2, hyper_rounding)
    if b1 >= 1.0 or b2 >= 1.0:
        raise OutOfDomainError(f"beta1={beta1!r}, beta2={beta2!r}: a beta rounds to 1 in "
                               "binary32, where 1 - beta^t = 0 and the step is undefined")
    bits = precision_bits + 32
    sign: int | None = None
    while True:
        with interval_precision(bits) as iv:
            ib1, ib2 = iv.mpf(b1), iv.mpf(b2)
            p1, p2 = (ib1**t, ib2**t) if powers is None else (iv.mpf(powers[0]),
                                                               iv.mpf(powers[1]))
            bc2 = 1 - p2
            rho_inf = 2 / (1 - ib2) - 1
            positive = b2 > 0 if powers is None else powers[1] > 0
            rho = rho_inf - 2 * t * p2 / bc2 if positive else rho_inf
            bc1 = 1 - p1
            lo, hi = interval_bounds(rho - convention.threshold)
            if convention.is_adam or lo > 0:  # Adam has no threshold: always rectified
                sign = 1
            elif hi < 0:
                sign = -1
            narrow = all(_narrow(x, precision_bits) for x in (rho, bc1, bc2))
            if (sign is not None and narrow) or bits >= _MAX_BITS:
                break
        bits *= 2
    if sign is None:
        if powers is not None:
            raise UndecidedError(f"cannot decide rho_t against {convention.threshold} at t={t} "
                                 f"from the running power {powers[1]}")
        sign = _exact_sign(t, b2, convention.threshold)
    rectified = convention.rectifies(sign)
    with interval_precision(bits):
        r_t = None
        if convention.is_adam:
            r_t = real.one
        elif rectified:
            square = (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
            s_lo, s_hi = interval_bounds(square)
            r_t = real.sqrt(max((s_lo + s_hi) / 2, real.zero))
    with real.workprec(precision_bits):
        def mid(x: object) -> mpmath.mpf:
            a, b = interval_bounds(x)
            return +((a + b) / 2)

        return ScheduleStep(
            t=t,
            rho_inf=mid(rho_inf),
            rho_t=mid(rho),
            rectified=rectified,
            r_t=None if r_t is None else +r_t,
            # a reading without bias correction (LAMB's first version) divides by nothing
            bias_correction1=mid(bc1) if convention.corrects_m else real.one,
            bias_correction2=mid(bc2) if convention.corrects_v else real.one,
            precision_bits=precision_bits,
            rectifier=not convention.is_adam,
            float32_scalars=convention.float32_scalars,
            m_corrected=convention.corrects_m,
            v_corrected=convention.corrects_v,
            running_powers=convention.powers == "running",
        )


def rho_inf(beta2: float, *, precision_bits: int = DEFAULT_PRECISION_BITS) -> mpmath.mpf:
    """``2/(1-beta2) - 1`` for the exact binary value of beta2."""
    _check_betas(0.0, beta2)
    with real.workprec(precision_bits + 64):
        value = 2 / (1 - real.mpf(beta2)) - 1
    with real.workprec(precision_bits):
        return +value


def first_rectified_step(
    beta2: float, convention: Convention, *, limit: int = 1 << 40
) -> int | None:
    """The first t whose branch is rectified, or None when rho_inf never passes the threshold
    (Adam: step 1).

    rho_t increases in t (derivation claim ``rho-increasing``), so a bisection on the
    certified decision finds it.
    """
    if convention.is_adam:
        return 1
    inf = rho_inf(as_binary(beta2, "float32") if convention.float32_scalars else beta2)
    if inf < convention.threshold or (inf == convention.threshold and convention.comparison == ">"):
        return None
    lo, hi = 1, 2
    while not schedule_step(hi, 0.0, beta2, convention).rectified:
        lo, hi = hi, hi * 2
        if hi > limit:
            return None
    if schedule_step(lo, 0.0, beta2, convention).rectified:
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if schedule_step(mid, 0.0, beta2, convention).rectified:
            hi = mid
        else:
            lo = mid
    return hi


def schedule_document(
    beta1: float,
    beta2: float,
    convention: Convention,
    *,
    start: int,
    steps: int,
    digits: int = 30,
    hyper_rounding: HyperRounding = "float64",
) -> dict[str, object]:
    """The JSON document of ``radam-verify schedule``: numbers as decimal strings."""
    bits = max(DEFAULT_PRECISION_BITS, int(digits * 3.33) + 16)

    def text(value: mpmath.mpf) -> str:
        return str(real.nstr(value, digits, strip_zeros=False, min_fixed=-4, max_fixed=digits))

    rows = []
    for t in range(start, start + steps):
        step = schedule_step(t, beta1, beta2, convention, precision_bits=bits,
                             hyper_rounding=hyper_rounding)
        rows.append({
            "t": t,
            "rho_t": text(step.rho_t),
            "rectified": step.rectified,
            "r_t": None if step.r_t is None else text(step.r_t),
            "bias_correction1": text(step.bias_correction1),
            "bias_correction2": text(step.bias_correction2),
        })
    return {
        "convention": convention.spec,
        "rho_inf": text(rho_inf(as_binary(beta2, hyper_rounding), precision_bits=bits)),
        "steps": rows,
    }
