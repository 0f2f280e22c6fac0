"""The derivation report: the checked claims, figures, the early schedule and float32 numerics.

:func:`write_derivation_report` writes two files into a folder:

* ``derivation.html``: the whole report in one file, for any browser and with no
  network: formulas as MathML, figures as inline SVG, an inline stylesheet, no script;
* ``derivation.md``: the same content as Markdown, formulas as LaTeX between ``$$``,
  and each figure as ``figures/NAME.svg`` beside it, linked by a relative path.

Nothing in either file is typed in: the claims are checked by SymPy when the report is
written (or passed in already checked), and every number, table and figure is computed
from radam_verify's schedule, closed forms and float32 evaluations at the same time
(see :mod:`radam_verify.report.sections`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from radam_verify import __version__
from radam_verify.derivation import Claim, all_claims
from radam_verify.errors import UsageError
from radam_verify.report.html_page import render_html
from radam_verify.report.markdown_page import FIGURES_DIR, figure_path, render_report_markdown
from radam_verify.report.model import Paragraph, Report
from radam_verify.report.sections import SECTIONS

HTML_NAME = "derivation.html"
MARKDOWN_NAME = "derivation.md"
TITLE = "RAdam's constants and schedule, derived and checked"

Progress = Callable[[str], None]


def _silent(message: str) -> None:
    """The default progress callback: say nothing."""


def build_report(claims: Sequence[Claim], progress: Progress = _silent) -> Report:
    """The report's content for already checked ``claims``, each section computed now."""
    sections = []
    for message, build in SECTIONS:
        progress(message)
        sections.append(build(claims))
    verified = sum(item.verified for item in claims)
    introduction = (
        Paragraph(
            f"Written by radam-verify {__version__} from its derivation and exact reference "
            "(Liu et al., \"On the Variance of the Adaptive Learning Rate and Beyond\", ICLR "
            "2020). Every claim below was checked, and every number, table and figure computed, "
            "when this report was written; none is copied from elsewhere."
        ),
        Paragraph(f"{verified} of {len(claims)} claims verified."),
    )
    return Report(TITLE, introduction, tuple(sections))


def write_derivation_report(
    out_dir: Path,
    *,
    progress: Progress | None = None,
    claims: Sequence[Claim] | None = None,
) -> list[Path]:
    """Write ``derivation.html``, ``derivation.md`` and the figures' SVG files into ``out_dir``.

    Args:
        out_dir: the folder to write into; created if missing.
        progress: called with a short message (``"checking claims"``, ``"figure: rho_t"``,
            ...) as each part starts, for a command line to show.
        claims: claims already checked by :func:`radam_verify.derivation.all_claims`; when
            left out they are checked now, which takes most of the time.

    Returns:
        The paths written: the HTML file, the Markdown file, then the figures.
    """
    say = progress or _silent
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir} is a file; pass a folder to write the derivation report into")
    started = time.perf_counter()
    if claims is None:
        say("checking claims")
        claims = all_claims()
    report = build_report(claims, say)
    figures_dir = out_dir / FIGURES_DIR
    figures_dir.mkdir(parents=True, exist_ok=True)
    html_path, markdown_path = out_dir / HTML_NAME, out_dir / MARKDOWN_NAME
    say(f"writing {HTML_NAME}")
    html_path.write_text(render_html(report), encoding="utf-8")
    say(f"writing {MARKDOWN_NAME} and its figures")
    markdown_path.write_text(render_report_markdown(report), encoding="utf-8")
    written = [html_path, markdown_path]
    for figure in report.figures():
        path = out_dir / figure_path(figure)
        path.write_text(figure.svg, encoding="utf-8")
        written.append(path)
    say(f"done in {time.perf_counter() - started:.1f} s")
    return written
