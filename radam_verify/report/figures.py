"""The report's figures, drawn by matplotlib as SVG text.

Figures are built with :class:`matplotlib.figure.Figure` and written by the SVG backend
directly, without pyplot, so drawing them changes no global backend or state of the
caller. Text is kept as SVG ``<text>`` (``svg.fonttype = none``): the browser draws it
with its own sans-serif font, and the SVG holds no glyph outlines. The SVG carries no
date, so the same numbers give the same file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from radam_verify.errors import UsageError
from radam_verify.report.float32 import Float32Rho
from radam_verify.report.series import Curve, FamilyCurves, VarianceCurves

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "radam-verify",
    "font.size": 10.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_THRESHOLD_STYLES = {4.0: ("0.25", "--"), 5.0: ("tab:red", ":")}


@contextmanager
def new_figure(width: float, height: float, columns: int = 1,
               margins: dict[str, float] | None = None) -> Iterator[tuple[Figure, list[Axes]]]:
    """A fresh figure with ``columns`` axes side by side, under the report's rc settings.

    Laid out by matplotlib's constrained layout, or, where ``margins`` are given (the
    arguments of :meth:`~matplotlib.figure.Figure.subplots_adjust`), at those fixed
    fractions of the figure: a verdict draws one figure per property, and the constrained
    layout's measuring passes take most of its drawing time."""
    try:
        from matplotlib import rc_context
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(
            "the derivation report draws its figures with matplotlib; install it with "
            "pip install 'radam-verify[plots]'"
        ) from None
    with rc_context(_RC):
        figure = Figure(figsize=(width, height), layout=None if margins else "constrained")
        axes = [figure.add_subplot(1, columns, i + 1) for i in range(columns)]
        if margins:
            figure.subplots_adjust(**margins)
        yield figure, axes


def svg_text(figure: Figure) -> str:
    """The figure as SVG text, without date or creator metadata."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def rho_t_figure(curves: Sequence[Curve], thresholds: dict[float, str],
                 rho_inf: Sequence[float]) -> str:
    """rho_t against t (log-log), rho_inf dotted, each threshold a horizontal line."""
    with new_figure(7.5, 4.6) as (figure, (ax,)):
        for index, (curve, limit) in enumerate(zip(curves, rho_inf, strict=True)):
            colour = f"C{index}"
            ax.plot(curve.x, curve.y, color=colour, label=curve.label)
            ax.axhline(limit, color=colour, linestyle=(0, (1, 3)), linewidth=0.9)
        for threshold, label in thresholds.items():
            colour, style = _THRESHOLD_STYLES.get(threshold, ("0.5", "-."))
            ax.axhline(threshold, color=colour, linestyle=style, linewidth=1.2, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step t")
        ax.set_ylabel(r"$\rho_t$ (dotted: $\rho_\infty$)")
        ax.set_title(r"The SMA length $\rho_t$")
        ax.legend(loc="upper left", fontsize=8.5)
        return svg_text(figure)


def r_t_figure(curves: Sequence[Curve], threshold: float) -> str:
    """r_t against t (log t), one line per beta2, at the steps with rho_t above ``threshold``."""
    with new_figure(7.5, 4.2) as (figure, (ax,)):
        for index, curve in enumerate(curves):
            ax.plot(curve.x, curve.y, color=f"C{index}", label=curve.label)
        ax.axhline(1.0, color="0.4", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_ylim(0.0, 1.05)
        ax.set_xlabel("step t")
        ax.set_ylabel(r"$r_t$")
        ax.set_title(rf"The rectification term $r_t$ (steps with $\rho_t > {threshold:g}$)")
        ax.legend(loc="upper left", fontsize=8.5)
        return svg_text(figure)


def variance_figure(curves: VarianceCurves, threshold: float) -> str:
    """Var[psi] exact and first-order (left), their ratio (right), against rho."""
    with new_figure(9.5, 4.0, columns=2) as (figure, (left, right)):
        left.plot(curves.rho, curves.exact, color="C0", label="exact (Gamma functions)")
        left.plot(curves.rho, curves.first_order, color="C3", linestyle="--", label="first order")
        left.set_xscale("log")
        left.set_yscale("log")
        left.set_xlabel(r"$\rho$")
        left.set_ylabel(r"Var$[\psi]$ ($\sigma = 1$)")
        left.set_title(r"Variance of $\psi$")
        left.legend(fontsize=8.5)
        right.plot(curves.rho, curves.ratio, color="C2")
        right.axhline(1.0, color="0.4", linewidth=0.8)
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel(r"$\rho$")
        right.set_ylabel("first order / exact")
        right.set_title("Overstatement of the first-order variance")
        for ax in (left, right):
            ax.axvline(threshold, color="tab:red", linestyle=":", linewidth=1.2)
        return svg_text(figure)


def first_step_figure(curves: Sequence[Curve], limits: Sequence[float],
                      asymptotes: Sequence[float]) -> str:
    """The first rectified step against 1 - beta2 (log 1 - beta2, beta2 grows to the right)."""
    from matplotlib.ticker import MaxNLocator

    with new_figure(7.5, 4.4) as (figure, (ax,)):
        for index, (curve, limit, gap) in enumerate(zip(curves, limits, asymptotes, strict=True)):
            colour = f"C{index}"
            ax.plot(curve.x, curve.y, color=colour, drawstyle="steps-mid", label=curve.label)
            ax.axhline(limit, color=colour, linestyle=(0, (1, 3)), linewidth=0.9)
            ax.axvline(gap, color=colour, linestyle="--", linewidth=0.9)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(r"$1 - \beta_2$ ($\beta_2$ grows to the right)")
        ax.set_ylabel(r"first rectified step $t^\star$")
        ax.set_title(r"The first step with $\rho_t$ above the threshold")
        ax.legend(fontsize=8.5)
        return svg_text(figure)


def float32_figure(rows: Sequence[Float32Rho]) -> str:
    """|float32 rho_t - exact rho_t| against 1 - beta2 (log-log), per form and step."""
    with new_figure(7.5, 4.6) as (figure, (ax,)):
        for index, t in enumerate(dict.fromkeys(row.t for row in rows)):
            chosen = [row for row in rows if row.t == t]
            gaps = [row.gap for row in chosen]
            colour = f"C{index}"
            ax.plot(gaps, [_visible(row.textbook_error) for row in chosen], color=colour,
                    marker="o", markersize=3.5, label=f"textbook form, t = {t}")
            ax.plot(gaps, [_visible(row.cancellation_free_error) for row in chosen], color=colour,
                    marker="s", markersize=3.5, linestyle="--", label=f"cancellation-free form, t = {t}")
            ax.plot(gaps, [row.ulp for row in chosen], color=colour, linestyle=(0, (1, 2)),
                    linewidth=0.9, label=f"one float32 ulp of $\\rho_t$, t = {t}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.invert_xaxis()
        ax.set_xlabel(r"$1 - \beta_2$ ($\beta_2$ in float32)")
        ax.set_ylabel(r"$|\rho_t^{\mathrm{float32}} - \rho_t|$")
        ax.set_title(r"Error of $\rho_t$ evaluated in float32")
        ax.legend(fontsize=8, loc="upper left")
        return svg_text(figure)


def _visible(error: float) -> float:
    """An exact zero cannot sit on a log axis: it is left out of the line (NaN)."""
    return error if error > 0.0 else float("nan")


def family_figure(curves: FamilyCurves) -> str:
    """Left: 1 - r_t against t with its first-order form (log-log); right: AMSGrad's
    effective step over lr against t, torch's and the paper's."""
    with new_figure(9.5, 4.0, columns=2) as (figure, (left, right)):
        for index, (gap, first) in enumerate(zip(curves.gap, curves.first_order, strict=True)):
            left.plot(gap.x, gap.y, color=f"C{index}", label=gap.label)
            left.plot(first.x, first.y, color=f"C{index}", linestyle="--", linewidth=0.9,
                      label=first.label)
        left.set_xscale("log")
        left.set_yscale("log")
        left.set_xlabel("step t")
        left.set_ylabel(r"$1 - r_t$")
        left.set_title("RAdam's step as a share of Adam's: the gap", fontsize=10)
        left.legend(loc="lower left", fontsize=7.5)
        for index, curve in enumerate((curves.amsgrad_torch, curves.amsgrad_paper)):
            right.plot(curve.x, curve.y, color=f"C{index + 2}", label=curve.label)
        right.set_xscale("log")
        right.set_xlabel("step t")
        right.set_ylabel("effective step / lr")
        right.set_title(r"AMSGrad, $g_1 = 1$ then 0", fontsize=10)
        right.legend(loc="lower right", fontsize=7.5)
        return svg_text(figure)
