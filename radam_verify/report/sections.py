"""The content of the derivation report, one function per section.

Each builder takes the checked claims and returns a :class:`Section` whose numbers,
tables and figures are computed by radam_verify when it runs; formulas are the claims'
own LaTeX or SymPy's LaTeX of the closed forms. Only the prose connecting them is
written here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import sympy as sp

from radam_verify.conventions import PRESETS
from radam_verify.derivation import Claim
from radam_verify.derivation import formulas as F
from radam_verify.derivation.variance import exact_variance_psi
from radam_verify.precision import real
from radam_verify.report import figures, series
from radam_verify.report.float32 import Float32Rho, float32_rows
from radam_verify.report.model import Block, Chapter, ClaimBlock, Figure, Formula, Paragraph, Section, Table
from radam_verify.schedule import first_rectified_step, rho_inf, schedule_step

SectionBuilder = Callable[[Sequence[Claim]], Section]
#: The early schedule tabulated: beta1, beta2, the number of steps and the convention.
TABLE_BETA1, TABLE_BETA2, TABLE_STEPS = 0.9, 0.999, 10
TABLE_CONVENTION = PRESETS["pytorch"]
_DIGITS = 12


def decimal(value: object, digits: int = _DIGITS) -> str:
    """An mpmath number as a decimal string of ``digits`` significant digits."""
    return str(real.nstr(value, digits, min_fixed=-4, max_fixed=digits))


def _claim_formulas(claims: Sequence[Claim], *ids: str) -> tuple[Block, ...]:
    """The displayed formula of each named claim that is present, in the order named."""
    by_id = {item.id: item for item in claims}
    return tuple(Formula(by_id[i].latex) for i in ids if i in by_id)


def _thresholds() -> str:
    return " and ".join(f"{c.threshold:g}" for c in series.THRESHOLD_CONVENTIONS)


def claims_section(claims: Sequence[Claim]) -> Section:
    """Every claim with its statement, formula and checked steps."""
    verified = sum(item.verified for item in claims)
    intro = Paragraph(
        f"{verified} of {len(claims)} claims hold. Each claim is a statement with the steps "
        "that establish it; every step says how it was checked (symbolic simplification to "
        "zero, a limit, a series, a solution set, a sign under a positive re-parametrisation, "
        "mpmath at a stated precision, or exact rational arithmetic) and whether the check "
        "succeeded when this report was written."
    )
    blocks: list[Block] = []
    chapter = None
    for number, item in enumerate(claims, start=1):
        if item.algorithm != chapter:  # a chapter per algorithm of the family
            chapter = item.algorithm
            blocks.append(Chapter(chapter))
        blocks.append(ClaimBlock(number, item))
    return Section("claims", "The claims, checked step by step", (intro, *blocks))


def rho_t_section(claims: Sequence[Claim]) -> Section:
    """rho_t over training for several b2, against the thresholds."""
    curves = series.rho_t_curves()
    limits = [float(rho_inf(b2)) for b2 in series.BETA2_VALUES]
    thresholds = {
        c.threshold: f"threshold {c.threshold:g} ({', '.join(series.presets_with_threshold(c.threshold))})"
        for c in series.THRESHOLD_CONVENTIONS
    }
    listed = ", ".join(f"{decimal(rho_inf(b2), 6)} for b2 = {b2:g}" for b2 in series.BETA2_VALUES)
    text = Paragraph(
        f"rho_t from the certified schedule at every step up to t = 20 and at steps spread "
        f"evenly on a log scale up to t = {series.T_MAX}. It starts at rho_1 = 1 (claim rho-one), "
        "increases (rho-increasing), stays below t (rho-below-t) and tends to rho_inf (dotted; "
        f"claim rho-inf): {listed}. A step is rectified once rho_t passes the threshold "
        "(horizontal lines)."
    )
    figure = Figure("rho_t", f"rho_t against t for several b2, with the thresholds {_thresholds()}.",
                    figures.rho_t_figure(curves, thresholds, limits))
    return Section("rho-t", "The SMA length rho_t over training",
                   (*_claim_formulas(claims, "sma-length", "rho-inf"), text, figure))


def r_t_section(claims: Sequence[Claim]) -> Section:
    """r_t over training for the same b2."""
    convention = TABLE_CONVENTION
    first = first_rectified_step(TABLE_BETA2, convention)
    r_first = None if first is None else schedule_step(first, 0.0, TABLE_BETA2, convention).r_t
    at_first = "" if first is None or r_first is None else (
        f" With threshold {convention.threshold:g} ({convention.name}) and b2 = {TABLE_BETA2:g}, "
        f"the first rectified step is t = {first}, where r_t = {decimal(r_first, 6)}: the first "
        f"rectified update is {float(r_first):.1%} of the unrectified Adam step."
    )
    shown = series.R_T_CONVENTION
    text = Paragraph(
        f"r_t at the steps where rho_t {shown.comparison} {shown.threshold:g} (convention "
        f"{shown.name}), from the certified schedule. "
        "It increases with t and tends to 1 (claim rectifier); claim late-regime says how fast."
        + at_first
    )
    figure = Figure("r_t", "r_t against t for the same b2.",
                    figures.r_t_figure(series.r_t_curves(), shown.threshold))
    return Section("r-t", "The rectification term r_t",
                   (*_claim_formulas(claims, "rectifier"), text, figure))


def variance_section(claims: Sequence[Claim]) -> Section:
    """Var[psi] exact against first order, and their ratio."""
    threshold = TABLE_CONVENTION.threshold
    ratios = ", ".join(f"{series.variance_ratio_at(r):.4g} at rho = {r}" for r in (5, 10, 100, 1000))
    text = Paragraph(
        "Var[psi] for psi^2 ~ Scaled-Inv-chi^2(rho, 1/sigma^2) with sigma = 1: the exact value "
        "in Gamma functions (claim psi-moments, first formula above) against the first-order "
        "approximation that defines r_t, evaluated by mpmath at 200 bits. The first-order "
        f"value overstates the exact one by a factor of {ratios}; the factor tends to 1 as "
        "rho grows (claim psi-variance-ratio) and grows without bound as rho falls to 4, "
        f"below which the approximation is negative (claim false-statements). The dotted line "
        f"is rho = {threshold:g}."
    )
    exact = Formula(rf"\operatorname{{Var}}[\psi] = {sp.latex(exact_variance_psi(F.rho, F.sigma))}")
    figure = Figure("variance_psi", "Exact and first-order Var[psi] against rho, and their ratio.",
                    figures.variance_figure(series.variance_curves(), threshold))
    return Section("variance", "The variance of psi: exact and to first order",
                   (exact, *_claim_formulas(claims, "psi-moments", "psi-variance-ratio"), text, figure))


def _lowest_beta2(threshold: float) -> sp.Expr:
    """The b2 at which rho_inf equals ``threshold``, solved from the closed form."""
    (solution,) = sp.solve(sp.Eq(F.rho_inf(F.beta2), sp.nsimplify(threshold)), F.beta2)
    return solution


def first_step_section(claims: Sequence[Claim]) -> Section:
    """The first rectified step against b2, for each threshold."""
    curves = series.first_step_curves()
    lowest = {c.threshold: _lowest_beta2(c.threshold) for c in series.THRESHOLD_CONVENTIONS}
    text = Paragraph(
        "The first t with rho_t above the threshold, found by bisection on the certified branch "
        "decision. It grows without bound as b2 falls to the value where rho_inf equals the "
        "threshold (dashed; claim rectification-possible): "
        + ", ".join(f"b2 = {sp.sstr(b)} for threshold {h:g}" for h, b in lowest.items())
        + ", and it tends to threshold + 1 as b2 -> 1 (dotted; claim first-rectified-step)."
    )
    figure = Figure(
        "first_rectified_step", f"The first rectified step against 1 - b2, for thresholds {_thresholds()}.",
        figures.first_step_figure(curves, [h + 1 for h in lowest],
                                  [float(1 - b) for b in lowest.values()]))
    return Section("first-step", "The first rectified step",
                   (*_claim_formulas(claims, "first-rectified-step"), text, figure))


def schedule_section(claims: Sequence[Claim]) -> Section:
    """The certified schedule of the first steps, as a table."""
    steps = series.early_schedule(TABLE_BETA1, TABLE_BETA2, TABLE_STEPS, TABLE_CONVENTION)
    threshold = f"{TABLE_CONVENTION.comparison} {TABLE_CONVENTION.threshold:g}"
    rows = tuple(
        (str(s.t), decimal(s.rho_t), "yes" if s.rectified else "no",
         "-" if s.r_t is None else decimal(s.r_t), decimal(s.bias_correction1),
         decimal(s.bias_correction2))
        for s in steps
    )
    table = Table(
        f"The first {TABLE_STEPS} steps for beta1 = {TABLE_BETA1:g}, b2 = {TABLE_BETA2:g}, "
        f"convention {TABLE_CONVENTION.spec} ({_DIGITS} significant digits).",
        ("t", "rho_t", f"rectified (rho_t {threshold})", "r_t", "1 - beta1^t", "1 - beta2^t"),
        rows,
    )
    text = Paragraph(
        f"The certified schedule (interval arithmetic, branch decided exactly) at the binary64 "
        f"values of the hyperparameters; rho_inf = {decimal(steps[0].rho_inf)}."
    )
    return Section("schedule", f"The first {TABLE_STEPS} steps for b2 = {TABLE_BETA2:g}", (text, table))


def _is_decade(gap: float) -> bool:
    exponent = math.log10(gap)
    return abs(exponent - round(exponent)) < 1e-9


def _flips(row: Float32Rho, threshold: float) -> bool:
    """The textbook float32 value is on the other side of ``threshold`` from the exact rho_t."""
    return bool((row.textbook > threshold) != (row.exact > threshold))


def float32_table(rows: Sequence[Float32Rho]) -> Table:
    """The float32 evaluations at 1 - b2 = 10^-1, ..., 10^-7 for each step."""
    threshold = TABLE_CONVENTION.threshold

    def branch(value: float) -> str:
        return "yes" if value > threshold else "no"

    return Table(
        "rho_t in float32 against the exact value at the same float32 b2; errors are absolute, "
        f"'ulp' is the float32 spacing at rho_t; the last column is rho_t > {threshold:g}, "
        "exact / textbook.",
        ("t", "1 - b2 (b2 in float32)", "exact rho_t", "textbook float32", "error",
         "cancellation-free float32", "error", "ulp", f"rho_t > {threshold:g}"),
        tuple(
            (str(r.t), f"{r.gap:.3g}", decimal(r.exact, 10), f"{r.textbook:.9g}",
             f"{r.textbook_error:.3g}", f"{r.cancellation_free:.9g}",
             f"{r.cancellation_free_error:.3g}", f"{r.ulp:.3g}",
             f"{branch(float(r.exact))} / {branch(r.textbook)}")
            for r in rows if _is_decade(r.requested_gap)
        ),
    )


def float32_section(claims: Sequence[Claim]) -> Section:
    """rho_t in float32, textbook and cancellation-free, against the exact value."""
    rows = float32_rows()
    threshold = TABLE_CONVENTION.threshold
    worst = min((r for r in rows if r.t == min(r.t for r in rows)), key=lambda r: r.gap)
    flips = [r for r in rows if _flips(r, threshold)]
    flipped = "" if not flips else (
        f" At t = {flips[0].t} and 1 - b2 = {flips[0].gap:.3g} the textbook form gives "
        f"{flips[0].textbook:.9g} for the exact {decimal(flips[0].exact, 8)}: it puts the step on "
        f"the wrong side of threshold {threshold:g}, so even the branch taken is noise."
    )
    text = Paragraph(
        "rho_t evaluated with every operation in numpy float32 (b2^k correctly rounded, as the "
        "best float32 pow would return it), in the textbook form "
        "rho_inf - 2 t b2^t / (1 - b2^t) and in the cancellation-free form of claim "
        "rho-cancellation-free, against the exact rho_t at the same float32 b2. The textbook "
        "form subtracts two numbers close to 2/(1 - b2), so its error grows like 1/(1 - b2) "
        f"times float32's precision. At t = {worst.t} and 1 - b2 = {worst.gap:.3g} it gives "
        f"{worst.textbook:.9g} for the exact {decimal(worst.exact, 8)}, "
        f"{worst.textbook_error / worst.ulp:.3g} ulp off; the cancellation-free form is off by "
        f"{worst.cancellation_free_error / worst.ulp:.2g} ulp there and by at most "
        f"{max(r.cancellation_free_error / r.ulp for r in rows):.2g} ulp anywhere." + flipped
    )
    figure = Figure(
        "float32_rho_t", "Absolute error of rho_t in float32 against 1 - b2: textbook and "
        "cancellation-free forms, at t = " + " and ".join(str(t) for t in dict.fromkeys(r.t for r in rows))
        + ". Points with no error at all are left out of the log scale.",
        figures.float32_figure(rows))
    return Section("float32", "rho_t in float32: cancellation as b2 approaches 1",
                   (*_claim_formulas(claims, "sma-length", "rho-cancellation-free"), text, figure,
                    float32_table(rows)))


#: The sections in order, each with the progress message shown while it is built.
def family_section(claims: Sequence[Claim]) -> Section:
    """RAdam's family in pictures: how far RAdam's step is from Adam's, and AMSGrad's
    effective step with and without bias correction."""
    curves = series.family_curves()
    last = {c.label: (c.x[-1], c.y[-1]) for c in curves.gap}
    gaps = "; ".join(f"{label}: {y:.3g} at t = {x:g}" for label, (x, y) in last.items())
    torch_step = curves.amsgrad_torch
    low, low_t = min(zip(torch_step.y, torch_step.x, strict=True))
    text = Paragraph(
        "Left: 1 - r_t, how much smaller RAdam's rectified step is than Adam's, from the "
        "certified schedule at the steps the paper's convention rectifies, and its first-order "
        "form in delta = 2 t b2^t / (1 - b2^t) (claim radam-tends-to-adam, dashed), which it "
        f"meets as delta falls ({gaps}). Right: AMSGrad's effective step over lr after one "
        "gradient of 1 and zeros afterwards (the case of claim "
        "amsgrad-bias-corrected-step-can-grow): with torch's bias correction it falls from "
        f"{torch_step.y[0]:.4g} at t = 1 to {low:.4g} at t = {low_t:g} (1 - b1^t grows first) "
        f"and then grows to {torch_step.y[-1]:.4g} at t = {torch_step.x[-1]:g} (1 - b2^t "
        "grows), while the paper's reading, without bias correction, holds it constant here "
        "and never lets it grow (claim amsgrad-paper-step-non-increasing)."
    )
    figure = Figure("family", "RAdam against Adam (1 - r_t), and AMSGrad's effective step.",
                    figures.family_figure(curves))
    return Section("family", "RAdam's family: Adam's step, AMSGrad's maximum",
                   (*_claim_formulas(claims, "radam-tends-to-adam",
                                     "amsgrad-bias-corrected-step-can-grow"), text, figure))


SECTIONS: tuple[tuple[str, SectionBuilder], ...] = (
    ("section: claims", claims_section),
    ("figure: rho_t", rho_t_section),
    ("figure: r_t", r_t_section),
    ("figure: variance of psi", variance_section),
    ("figure: first rectified step", first_step_section),
    ("table: early schedule", schedule_section),
    ("numerics: rho_t in float32", float32_section),
    ("figure: RAdam's family", family_section),
)
