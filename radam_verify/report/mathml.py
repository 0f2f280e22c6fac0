"""LaTeX to MathML, so that the report's formulas render in a browser with nothing fetched.

The conversion itself is ``latex2mathml``'s. This module adds what the report needs on
top of it:

* a formula that does not convert raises :class:`FormulaError` naming it, and so does a
  result that is not one well-formed ``<math>`` element or still holds a LaTeX command
  (``latex2mathml`` passes an unknown command such as ``\\foo`` through as the text
  ``\\foo``, and copies ``\\text`` arguments without escaping them);
* two touches of typesetting in display formulas: the limit of ``\\lim``, ``\\min`` and
  the like goes under the operator, as TeX sets it, not beside it as a subscript; and
  relation symbols that ``latex2mathml`` writes as identifiers (``\\iff``) become
  operators, so that they get an operator's spacing.
"""

from __future__ import annotations

import unicodedata
from xml.etree import ElementTree

from latex2mathml.converter import convert

from radam_verify.errors import RadamVerifyError

MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"
_LIMIT_OPERATORS = frozenset({"lim", "min", "max", "sup", "inf", "limsup", "liminf"})


class FormulaError(RadamVerifyError, ValueError):
    """A LaTeX formula could not be turned into well-formed MathML."""


def latex_to_mathml(latex: str, *, display: bool = True) -> str:
    """The ``<math>`` element for ``latex``: a block (``display=True``) or inline in text.

    Raises :class:`FormulaError` when the LaTeX does not parse, when a command is left
    untranslated, or when the markup is not well-formed XML.
    """
    try:
        markup = convert(latex, display="block" if display else "inline")
    except Exception as error:  # latex2mathml's errors share no base class but Exception
        raise FormulaError(
            f"cannot convert the formula {latex!r} to MathML: {type(error).__name__} {error}"
        ) from error
    root = parse_mathml(markup, latex)
    if display:
        _limits_under(root)
    _relations_as_operators(root)
    return ElementTree.tostring(root, encoding="unicode")


def parse_mathml(markup: str, latex: str) -> ElementTree.Element:
    """``markup`` as an XML tree; :class:`FormulaError` unless it is one ``<math>`` with no LaTeX.

    Tags are returned without their namespace and the root carries it as a plain
    ``xmlns`` attribute, so that the tree serialises back as ``<math xmlns=...>``.
    """
    if "\\" in markup:
        raise FormulaError(
            f"the formula {latex!r} kept a LaTeX command in its MathML: {markup}; "
            "write it with commands that latex2mathml knows"
        )
    try:
        root = ElementTree.fromstring(markup)
    except ElementTree.ParseError as error:
        raise FormulaError(f"the formula {latex!r} gave malformed MathML ({error}): {markup}") from None
    if root.tag != f"{{{MATHML_NAMESPACE}}}math":
        raise FormulaError(f"the formula {latex!r} gave {root.tag!r}, not a MathML <math> element")
    for element in root.iter():
        element.tag = element.tag.removeprefix(f"{{{MATHML_NAMESPACE}}}")
    root.set("xmlns", MATHML_NAMESPACE)
    return root


def _limits_under(root: ElementTree.Element) -> None:
    """``<msub><mo>lim</mo>X</msub>`` becomes ``<munder>``: the limit is set under ``lim``."""
    for element in root.iter("msub"):
        base = element[0] if len(element) else None
        if base is not None and base.tag == "mo" and (base.text or "") in _LIMIT_OPERATORS:
            element.tag = "munder"


def _relations_as_operators(root: ElementTree.Element) -> None:
    """An ``<mi>`` holding one mathematical symbol (category Sm, e.g. ⟺) becomes an ``<mo>``."""
    for element in root.iter("mi"):
        text = element.text or ""
        if len(text) == 1 and unicodedata.category(text) == "Sm":
            element.tag = "mo"
