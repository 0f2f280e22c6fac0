"""The machinery of a machine-checked claim: a statement and the steps that establish it.

A :class:`Step` is one checkable fact about SymPy expressions. It records how it was
checked (``method``) and whether the check succeeded. Helpers below build steps; each
one asks SymPy (or mpmath at a stated precision) and never compares with a number typed
into the code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp


@dataclass(frozen=True)
class Step:
    """One checked step of a derivation."""

    description: str
    latex: str
    method: str
    verified: bool


@dataclass(frozen=True)
class Claim:
    """A statement about an algorithm of RAdam's family and the checked steps that establish it."""

    id: str
    title: str
    statement: str
    latex: str
    steps: tuple[Step, ...]
    algorithm: str = "RAdam"  # the chapter it belongs to

    @property
    def verified(self) -> bool:
        """A claim holds when it has steps and every one of them was verified."""
        return bool(self.steps) and all(step.verified for step in self.steps)

    @property
    def method(self) -> str:
        """The distinct checking methods used, in order of first use."""
        return ", ".join(dict.fromkeys(step.method for step in self.steps))

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "algorithm": self.algorithm,
            "title": self.title,
            "statement": self.statement,
            "latex": self.latex,
            "verified": self.verified,
            "method": self.method,
            "steps": [
                {
                    "description": s.description,
                    "latex": s.latex,
                    "method": s.method,
                    "verified": s.verified,
                }
                for s in self.steps
            ],
        }


def _is_zero(expr: sp.Expr) -> bool:
    """True when SymPy proves ``expr`` identically zero (several simplifiers, cheapest first)."""
    if expr == 0:
        return True
    for simplifier in (sp.cancel, sp.together, sp.simplify):
        try:
            reduced = simplifier(expr)
        except (TypeError, NotImplementedError):  # pragma: no cover - defensive
            continue
        if reduced == 0:
            return True
    rewritten = sp.simplify(expr.rewrite(sp.exp))
    return bool(rewritten == 0)


def identity(description: str, lhs: sp.Expr, rhs: sp.Expr) -> Step:
    """``lhs == rhs`` for all admissible symbol values, by simplifying ``lhs - rhs`` to zero."""
    latex = f"{sp.latex(lhs)} = {sp.latex(rhs)}"
    return Step(description, latex, "symbolic simplification", _is_zero(sp.sympify(lhs - rhs)))


def limit_is(
    description: str, expr: sp.Expr, var: sp.Symbol, point: sp.Expr, expected: sp.Expr
) -> Step:
    """``lim_{var -> point} expr == expected``, computed by SymPy."""
    found = sp.limit(expr, var, point)
    latex = rf"\lim_{{{sp.latex(var)} \to {sp.latex(point)}}} {sp.latex(expr)} = {sp.latex(expected)}"
    return Step(description, latex, "symbolic limit", _is_zero(sp.sympify(found - expected)))


def series_is(
    description: str,
    expr: sp.Expr,
    var: sp.Symbol,
    point: sp.Expr,
    order: int,
    expected: sp.Expr,
) -> Step:
    """The series of ``expr`` at ``point`` up to ``O(var**order)`` equals ``expected``."""
    found = sp.series(expr, var, point, order).removeO()
    latex = rf"{sp.latex(expr)} = {sp.latex(expected)} + O({sp.latex(var)}^{{{order}}})"
    if point == sp.oo:
        latex = rf"{sp.latex(expr)} = {sp.latex(expected)} + O({sp.latex(var)}^{{-{order}}})"
    return Step(description, latex, "symbolic series", _is_zero(sp.expand(found - expected)))


def positive(description: str, expr: sp.Expr, latex: str | None = None) -> Step:
    """``expr > 0`` for every admissible value, decided by SymPy's assumptions.

    Constraints such as ``0 < beta2 < 1`` are expressed by a positive re-parametrisation
    (``beta2 = 1/(1+s)``, ``s > 0``) so that the assumptions system can decide the sign
    of the factored expression.
    """
    reduced = sp.factor(sp.simplify(expr))
    shown = latex if latex is not None else f"{sp.latex(reduced)} > 0"
    return Step(description, shown, "sign by assumptions", bool(reduced.is_positive))


def solution_set(
    description: str, inequality: sp.Basic, var: sp.Symbol, expected: sp.Set, domain: sp.Set
) -> Step:
    """The solution set of ``inequality`` over ``domain`` equals ``expected``."""
    found = sp.solveset(inequality, var, domain)
    latex = rf"\{{{sp.latex(var)} : {sp.latex(inequality)}\}} = {sp.latex(expected)}"
    return Step(description, latex, "symbolic solveset", bool(found == expected))


def numeric(
    description: str, latex: str, check: Callable[[], bool], precision_bits: int
) -> Step:
    """A fact with no closed form, checked by mpmath at ``precision_bits`` bits."""
    return Step(description, latex, f"mpmath at {precision_bits} bits", bool(check()))


def claim(
    id: str, title: str, statement: str, latex: str, steps: Sequence[Step],
    algorithm: str = "RAdam",
) -> Claim:
    """Assemble a claim from its checked steps (``algorithm``: its chapter)."""
    return Claim(id, title, statement, latex, tuple(steps), algorithm)
