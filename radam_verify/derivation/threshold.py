"""Claim 5: when rectification starts, and how fast r_t approaches 1.

The step numbers have no closed form. They are found by bisection on the certified
mpmath schedule (rho_t and r_t increase in t: claims ``rho-increasing`` and
``rectifier``), then verified independently in exact rational arithmetic with SymPy:
the formula for rho_t evaluated at the exact binary value of beta2.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import partial

import sympy as sp

from radam_verify.conventions import PRESETS
from radam_verify.derivation import formulas as F
from radam_verify.derivation.claims import Claim, Step, claim, limit_is
from radam_verify.schedule import first_rectified_step, rho_inf, schedule_step

COMMON_BETA2 = (0.62, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 0.999, 0.9999)
LATE_BETA2 = 0.999
LATE_GAPS = (1e-3, 1e-6)
_d = sp.Symbol("d", positive=True)


def exact_rho(t: int, beta2: float) -> Fraction:
    """rho_t as an exact rational: the formula evaluated at the binary value of beta2."""
    return Fraction(F.rho_t(t, Fraction(beta2)))


def exact_r_squared(t: int, beta2: float) -> Fraction:
    """r_t^2 as an exact rational, from the same formulas."""
    inf = Fraction(F.rho_inf(Fraction(beta2)))
    return Fraction(F.r_t_squared(exact_rho(t, beta2), inf))


def _rho_exceeds(t: int, beta2: float, threshold: int) -> bool:
    return exact_rho(t, beta2) > threshold


def _r_within(t: int, gap: float, beta2: float) -> bool:
    return exact_r_squared(t, beta2) > (1 - Fraction(gap)) ** 2


def first_step_table() -> dict[float, dict[int, int | None]]:
    """First rectified step for each common beta2, for thresholds 4 and 5 (strict)."""
    return {
        b2: {4: first_rectified_step(b2, PRESETS["paper"]),
             5: first_rectified_step(b2, PRESETS["pytorch"])}
        for b2 in COMMON_BETA2
    }


def steps_until(gap: float, beta2: float) -> int:
    """First t with 1 - r_t < gap (r_t from the certified schedule; r_t increases in t)."""
    def below(t: int) -> bool:
        step = schedule_step(t, 0.0, beta2, PRESETS["paper"])
        return step.r_t is not None and 1 - step.r_t < gap

    lo, hi = 1, 2
    while not below(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if below(mid) else (mid, hi)
    return hi


def _boundary(description: str, first: int, holds: Callable[[int], bool]) -> Step:
    ok = holds(first) and (first == 1 or not holds(first - 1))
    latex = rf"t^\star = {first}"
    return Step(description, latex, "exact rational arithmetic", bool(ok))


def claim_first_rectified_step() -> Claim:
    table = first_step_table()
    steps: list[Step] = []
    for b2, row in table.items():
        for threshold, first in row.items():
            if first is None:
                continue
            steps.append(_boundary(
                f"b2 = {b2}, threshold {threshold}: rho_t > {threshold} first at t = {first}",
                first, partial(_rho_exceeds, beta2=b2, threshold=threshold)))
    for threshold in (4, 5):
        steps.append(limit_is(
            f"as b2 -> 1, rho at t = {threshold + 1} tends to {threshold + 1} > {threshold} "
            f"(and rho_{threshold} < {threshold} by claim rho-below-t)",
            F.rho_t(sp.Integer(threshold + 1), 1 - _d), _d, sp.Integer(0),
            sp.Integer(threshold + 1)))
    rows = "; ".join(
        f"b2={b2}: " + ", ".join(
            f"{'never' if t is None else f't={t}'} (threshold {h})" for h, t in row.items())
        for b2, row in table.items()
    )
    return claim(
        "first-rectified-step",
        "The first rectified step",
        "The first rectified step is t*(b2, h) = min{t : rho_t > h}; it tends to h + 1 as "
        f"b2 -> 1. For common b2: {rows}.",
        r"t^\star(\beta_2, h) = \min\{t : \rho_t > h\}",
        steps,
    )


def claim_late_regime() -> Claim:
    found = {gap: steps_until(gap, LATE_BETA2) for gap in LATE_GAPS}
    inf = rho_inf(LATE_BETA2)
    steps = [
        _boundary(f"b2 = {LATE_BETA2}: 1 - r_t < {gap:g} first at t = {t}", t,
                  partial(_r_within, gap=gap, beta2=LATE_BETA2))
        for gap, t in found.items()
    ]
    listed = ", ".join(f"1 - r_t < {gap:g} from t = {t}" for gap, t in found.items())
    return claim(
        "late-regime",
        "How fast r_t approaches 1",
        f"For b2 = {LATE_BETA2} (rho_inf = {sp.Float(str(inf), 8)}): {listed}.",
        r"\min\{t : 1 - r_t < \varepsilon\}",
        steps,
    )


def threshold_claims() -> list[Claim]:
    """Claim 5 (its symbolic part is the claim ``rectification-possible``)."""
    return [claim_first_rectified_step(), claim_late_regime()]
