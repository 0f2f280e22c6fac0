"""Reports rendered from radam_verify's live derivation and reference.

:func:`write_derivation_report` writes the derivation report into a folder:
``derivation.html`` (one self-contained page: MathML formulas, inline SVG figures) and
``derivation.md`` with its figures as SVG files. Importing this package loads SymPy;
matplotlib loads only when a figure is drawn.
"""

from __future__ import annotations

from radam_verify.report.derivation_report import write_derivation_report
from radam_verify.report.mathml import FormulaError, latex_to_mathml

__all__ = ["FormulaError", "latex_to_mathml", "write_derivation_report"]
