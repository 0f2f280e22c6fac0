"""Render the report as one self-contained HTML page.

Formulas are MathML (:mod:`radam_verify.report.mathml`) and figures inline SVG, styled by
a short inline stylesheet: the page loads no script, stylesheet, font or image, so it
renders offline in any current browser. Every ``id`` inside a figure's SVG is prefixed
with the figure's name, so that figures drawn separately cannot collide in one page.
"""

from __future__ import annotations

import re
from html import escape

from radam_verify.report.mathml import latex_to_mathml
from radam_verify.report.model import (
    Block,
    Chapter,
    ClaimBlock,
    Figure,
    Formula,
    Paragraph,
    Report,
    Section,
    Table,
)

STYLE = """
body { font-family: system-ui, "DejaVu Sans", sans-serif; line-height: 1.5; color: #1b1f24;
       background: #fff; margin: 0; }
main { max-width: 1080px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.9rem; margin-bottom: 0.3rem; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.2rem; margin-top: 2.5rem; }
h3 { font-size: 1.08rem; margin: 1.6rem 0 0.4rem; }
nav ol { margin: 0.2rem 0; }
nav > ol > li { margin-top: 0.2rem; }
nav ol ol { columns: 2; font-size: 0.92rem; }
a { color: #0b5cad; text-decoration: none; }
code { font-size: 0.9em; background: #f3f4f6; padding: 0 0.25em; border-radius: 3px; }
.claim { border-left: 3px solid #d0d7de; padding-left: 1rem; margin: 1.2rem 0; }
.status { font-size: 0.8rem; font-weight: 600; padding: 0.1em 0.5em; border-radius: 1em; }
.status.ok { background: #dafbe1; color: #116329; }
.status.failed { background: #ffebe9; color: #a40e26; }
.steps > li { margin-bottom: 0.5rem; }
.method { color: #57606a; font-size: 0.92em; }
.method .ok { color: #116329; font-weight: 600; }
.method .failed { color: #a40e26; font-weight: 600; }
.formula { overflow-x: auto; padding: 0.2rem 0; }
math { font-family: "STIX Two Math", "Cambria Math", "Latin Modern Math", "DejaVu Math TeX Gyre", math; }
math[display="block"] { font-size: 1.1em; margin: 0.4rem 0; }
figure { margin: 1.5rem 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption, caption { color: #57606a; font-size: 0.92rem; text-align: left; margin: 0.3rem 0; }
.table { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.55rem; text-align: right; }
th { background: #f6f8fa; }
"""

_SVG_START = re.compile(r"<svg\b")
_SVG_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_URL = re.compile(r"url\(#([^)]+)\)")
_SVG_HREF = re.compile(r'href="#([^"]+)"')


def inline_svg(svg: str, prefix: str) -> str:
    """``svg`` without its XML prolog and comments, every id and reference to one prefixed with ``prefix``.

    matplotlib's comments hold the mathtext source of its labels; the page does not need them.
    """
    start = _SVG_START.search(svg)
    if start is None:
        raise ValueError(f"figure {prefix!r} has no <svg> element")
    body = _SVG_COMMENT.sub("", svg[start.start():]).strip()
    body = _SVG_ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = _SVG_URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", body)
    return _SVG_HREF.sub(lambda m: f'href="#{prefix}-{m.group(1)}"', body)


def _formula(latex: str) -> str:
    return f'<div class="formula">{latex_to_mathml(latex, display=True)}</div>'


def _mark(ok: bool, good: str, bad: str) -> str:
    return f'<span class="{"ok" if ok else "failed"}">{good if ok else bad}</span>'


def _claim(block: ClaimBlock, section_number: int) -> str:
    item = block.claim
    status = "ok" if item.verified else "failed"
    steps = "\n".join(
        f"<li><p>{escape(step.description)} <span class=\"method\">({escape(step.method)}: "
        f"{_mark(step.verified, 'ok', 'FAILED')})</span></p>{_formula(step.latex)}</li>"
        for step in item.steps
    )
    return (
        f'<article class="claim" id="claim-{escape(item.id)}">\n'
        f"<h3>{section_number}.{block.number} {escape(item.title)} <code>{escape(item.id)}</code> "
        f'<span class="status {status}">{"verified" if item.verified else "NOT VERIFIED"}</span></h3>\n'
        f"<p>{escape(item.statement)}</p>\n{_formula(item.latex)}\n"
        f'<ol class="steps">\n{steps}\n</ol>\n</article>'
    )


def _table(table: Table, number: int) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in table.header)
    body = "\n".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
                     for row in table.rows)
    return (
        f'<div class="table"><table>\n<caption>Table {number}. {escape(table.caption)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table></div>"
    )


def _figure(figure: Figure, number: int) -> str:
    return (
        f'<figure id="figure-{escape(figure.name)}">\n{inline_svg(figure.svg, figure.name)}\n'
        f"<figcaption>Figure {number}. {escape(figure.caption)}</figcaption>\n</figure>"
    )


class _Counter:
    """Figure and table numbers, running through the whole page."""

    def __init__(self) -> None:
        self.figures = 0
        self.tables = 0


def _block(block: Block, section_number: int, counter: _Counter) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Formula):
        return _formula(block.latex)
    if isinstance(block, ClaimBlock):
        return _claim(block, section_number)
    if isinstance(block, Chapter):
        return f'<h3 class="chapter">{escape(block.title)}</h3>'
    if isinstance(block, Table):
        counter.tables += 1
        return _table(block, counter.tables)
    counter.figures += 1
    return _figure(block, counter.figures)


def _section(section: Section, number: int, counter: _Counter) -> str:
    blocks = "\n".join(_block(block, number, counter) for block in section.blocks)
    return (f'<section id="{escape(section.anchor)}">\n<h2>{number}. {escape(section.title)}</h2>\n'
            f"{blocks}\n</section>")


def _contents(report: Report) -> str:
    entries = []
    for section in report.sections:
        claims = [b for b in section.blocks if isinstance(b, ClaimBlock)]
        inner = "" if not claims else "<ol>" + "".join(
            f'<li><a href="#claim-{escape(b.claim.id)}">{escape(b.claim.title)}</a></li>' for b in claims
        ) + "</ol>"
        entries.append(f'<li><a href="#{escape(section.anchor)}">{escape(section.title)}</a>{inner}</li>')
    return '<nav id="contents">\n<h2>Contents</h2>\n<ol>\n' + "\n".join(entries) + "\n</ol>\n</nav>"


def render_html(report: Report) -> str:
    """The whole report as one HTML document."""
    counter = _Counter()
    intro = "\n".join(f"<p>{escape(p.text)}</p>" for p in report.introduction)
    sections = "\n".join(_section(s, n, counter) for n, s in enumerate(report.sections, start=1))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(report.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(report.title)}</h1>\n{intro}\n{_contents(report)}\n{sections}\n"
        "</main>\n</body>\n</html>\n"
    )
