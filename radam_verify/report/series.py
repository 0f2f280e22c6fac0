"""The numbers behind the report's figures and schedule table, computed when asked.

Every value comes from radam_verify itself: rho_t, r_t and the branch from the certified
schedule (:func:`radam_verify.schedule.schedule_step`), first rectified steps from
:func:`radam_verify.schedule.first_rectified_step`, and the variance of psi from the SymPy
closed forms of :mod:`radam_verify.derivation`, evaluated by mpmath.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from radam_verify.conventions import PRESETS, Convention
from radam_verify.derivation import formulas as F
from radam_verify.derivation.variance import exact_variance_psi
from radam_verify.schedule import ScheduleStep, first_rectified_step, schedule_step

#: The beta2 values whose schedules the figures compare.
BETA2_VALUES = (0.9, 0.99, 0.999, 0.9999)
#: The last step drawn: past it even b2 = 0.9999 has rho_t within 0.1% of rho_inf.
T_MAX = 100_000
#: The conventions that stand for thresholds 4 and 5 (both rectify when rho_t > threshold).
THRESHOLD_CONVENTIONS = (PRESETS["paper"], PRESETS["pytorch"])
#: The convention whose rectified steps the r_t figure shows: r_t is real once rho_t > 4.
R_T_CONVENTION = PRESETS["paper"]
_VARIANCE_BITS = 200


@dataclass(frozen=True)
class Curve:
    """One line of a figure: ``label`` and the points ``(x[i], y[i])``."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True)
class VarianceCurves:
    """Var[psi] exact and to first order (sigma = 1) at each rho, and first order / exact."""

    rho: tuple[float, ...]
    exact: tuple[float, ...]
    first_order: tuple[float, ...]
    ratio: tuple[float, ...]


def step_grid(t_max: int = T_MAX) -> list[int]:
    """Every step up to 20, then steps spaced evenly on a log scale up to ``t_max``."""
    spread = np.round(np.logspace(0.0, np.log10(t_max), 160)).astype(int)
    return sorted({*range(1, 21), *(int(t) for t in spread)})


def presets_with_threshold(threshold: float) -> list[str]:
    """The names of RAdam's presets that compare rho_t with ``threshold`` (the other
    algorithms have no threshold)."""
    return [name for name, convention in PRESETS.items()
            if convention.algorithm == "radam" and convention.threshold == threshold]


def rho_t_curves(beta2_values: tuple[float, ...] = BETA2_VALUES) -> list[Curve]:
    """rho_t against t for each beta2 (rho_t does not depend on the convention)."""
    steps = step_grid()
    return [
        Curve(f"β2 = {b2:g}", tuple(map(float, steps)),
              tuple(float(schedule_step(t, 0.0, b2, PRESETS["paper"]).rho_t) for t in steps))
        for b2 in beta2_values
    ]


def r_t_curves(
    beta2_values: tuple[float, ...] = BETA2_VALUES, convention: Convention = R_T_CONVENTION
) -> list[Curve]:
    """r_t against t for each beta2, at the steps ``convention`` rectifies."""
    curves = []
    for b2 in beta2_values:
        points = [(t, step.r_t) for t in step_grid()
                  if (step := schedule_step(t, 0.0, b2, convention)).r_t is not None]
        curves.append(Curve(f"β2 = {b2:g}", tuple(float(t) for t, _ in points),
                            tuple(float(r) for _, r in points)))
    return curves


def variance_curves(points: int = 160) -> VarianceCurves:
    """Var[psi] from the Gamma-function form and from the first-order form, for 4 < rho <= 10^4.

    The exact form subtracts two numbers close to rho/(rho-2) when rho is large, so it is
    evaluated at 200 bits in a private mpmath context.
    """
    ctx = mpmath.MPContext()
    ctx.prec = _VARIANCE_BITS
    exact = sp.lambdify(F.rho, exact_variance_psi(F.rho, sp.Integer(1)), modules=[ctx])
    first = sp.lambdify(F.rho, F.variance_psi_first_order(F.rho, sp.Integer(1)), modules=[ctx])
    rho_values = [4.0 + float(gap) for gap in np.logspace(-1.3, 4.0, points)]
    exact_values = [exact(ctx.mpf(r)) for r in rho_values]
    first_values = [first(ctx.mpf(r)) for r in rho_values]
    return VarianceCurves(
        rho=tuple(rho_values),
        exact=tuple(float(v) for v in exact_values),
        first_order=tuple(float(v) for v in first_values),
        ratio=tuple(float(a / e) for a, e in zip(first_values, exact_values, strict=True)),
    )


def variance_ratio_at(rho_value: int) -> float:
    """First-order Var[psi] over the exact one at ``rho_value`` (sigma cancels)."""
    ctx = mpmath.MPContext()
    ctx.prec = _VARIANCE_BITS
    expr = F.variance_psi_first_order(F.rho, 1) / exact_variance_psi(F.rho, sp.Integer(1))
    return float(sp.lambdify(F.rho, expr, modules=[ctx])(ctx.mpf(rho_value)))


def first_step_curves(points: int = 240) -> list[Curve]:
    """The first rectified step against 1 - beta2 for each threshold, where it exists."""
    gaps = np.logspace(np.log10(0.399), -4.0, points)
    curves = []
    for convention in THRESHOLD_CONVENTIONS:
        found = [(float(gap), first_rectified_step(float(1.0 - gap), convention)) for gap in gaps]
        kept = [(gap, t) for gap, t in found if t is not None]
        curves.append(Curve(
            f"threshold {convention.threshold:g} ({convention.name})",
            tuple(gap for gap, _ in kept), tuple(float(t) for _, t in kept)))
    return curves


def early_schedule(
    beta1: float, beta2: float, steps: int, convention: Convention
) -> list[ScheduleStep]:
    """The certified schedule of steps 1 to ``steps``."""
    return [schedule_step(t, beta1, beta2, convention) for t in range(1, steps + 1)]


#: the beta2 values of the family figure's left panel, and the smallest gap 1 - r_t it draws
#: (past it r_t is 1 to within a binary64 ulp)
FAMILY_BETA2 = (0.99, 0.999)
FAMILY_SMALLEST_GAP = 1e-16


@dataclass(frozen=True)
class FamilyCurves:
    """RAdam against Adam: 1 - r_t from the certified schedule and to first order in
    delta = 2 t b2^t / (1 - b2^t) (claim radam-tends-to-adam), per beta2; AMSGrad's effective
    step over lr in the claim's case, with torch's bias correction and in the paper's reading
    (claims amsgrad-bias-corrected-step-can-grow and amsgrad-paper-step-non-increasing)."""

    gap: tuple[Curve, ...]
    first_order: tuple[Curve, ...]
    amsgrad_torch: Curve
    amsgrad_paper: Curve


def family_curves() -> FamilyCurves:
    """The family figure's numbers, each computed here (mpmath and exact rationals)."""
    from radam_verify.derivation.amsgrad import BETA2 as AMS_BETA2
    from radam_verify.derivation.amsgrad import effective_step_squared

    gap, first = [], []
    for b2 in FAMILY_BETA2:
        steps = [t for t in step_grid() if schedule_step(t, 0.0, b2, R_T_CONVENTION).r_t is not None]
        drawn: list[float] = []
        exact, approx = [], []
        with mpmath.workprec(160):
            inf = 2 / (1 - mpmath.mpf(b2)) - 1
            for t in steps:
                r = schedule_step(t, 0.0, b2, R_T_CONVENTION).r_t
                p = mpmath.mpf(b2) ** t
                delta = 2 * t * p / (1 - p)
                value = float(1 - r)  # type: ignore[operator]
                if value < FAMILY_SMALLEST_GAP:
                    break
                drawn.append(float(t))
                exact.append(value)
                approx.append(float(delta * (inf**2 - 8) / (2 * inf * (inf - 2) * (inf - 4))))
        label = f"β2 = {b2:g}"
        gap.append(Curve(label, tuple(drawn), tuple(exact)))
        first.append(Curve(f"{label}, first order", tuple(drawn), tuple(approx)))
    steps = step_grid(20_000)
    torch_step = tuple(float(effective_step_squared(t)) ** 0.5 for t in steps)
    paper = tuple(float(1 / (1 - AMS_BETA2)) ** 0.5 for _ in steps)  # v_max = 1 - b2 throughout
    return FamilyCurves(tuple(gap), tuple(first),
                        Curve("torch: sqrt(1 - β2^t) / ((1 - β1^t) sqrt(v_max))",
                              tuple(map(float, steps)), torch_step),
                        Curve("paper: 1 / sqrt(v_max)", tuple(map(float, steps)), paper))
