"""Render the report as Markdown, with its figures as SVG files beside it.

The claims are rendered by the derivation's own :func:`render_markdown` (the format of
``derivations/radam.md``), its headings moved one level down and each given an anchor.
Formulas stay LaTeX between ``$$`` (Markdown viewers with math support draw them);
figures are linked as ``figures/NAME.svg``, relative to the Markdown file.
"""

from __future__ import annotations

from collections.abc import Sequence

from radam_verify.derivation.document import render_markdown
from radam_verify.report.model import Block, ClaimBlock, Figure, Formula, Paragraph, Report, Section, Table

#: The folder, beside the Markdown file, that holds the figures.
FIGURES_DIR = "figures"


def figure_path(figure: Figure) -> str:
    """Where a figure's SVG file lives, relative to the Markdown file."""
    return f"{FIGURES_DIR}/{figure.name}.svg"


def claims_markdown(blocks: Sequence[ClaimBlock]) -> list[str]:
    """The claims as :func:`render_markdown` writes them, one heading level down, with anchors."""
    document = render_markdown([block.claim for block in blocks])
    lines: list[str] = []
    pending = iter(blocks)
    started = False
    for line in document.splitlines():
        if line.startswith("### "):  # a claim
            lines += [f'<a id="claim-{next(pending).claim.id}"></a>', "", "#" + line]
        elif line.startswith("## "):  # a chapter: an algorithm's claims
            started = True
            lines.append("#" + line)
        elif started:
            lines.append(line)
    if next(pending, None) is not None:
        raise ValueError("render_markdown wrote fewer claim headings than there are claims")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", r"\|")


def _table(table: Table, number: int) -> list[str]:
    return [
        f"*Table {number}.* {table.caption}",
        "",
        "| " + " | ".join(_cell(c) for c in table.header) + " |",
        "|" + "---:|" * len(table.header),
        *("| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows),
        "",
    ]


def _section(section: Section, number: int, counts: dict[str, int]) -> list[str]:
    lines = [f'<a id="{section.anchor}"></a>', "", f"## {number}. {section.title}", ""]
    claims = [b for b in section.blocks if isinstance(b, ClaimBlock)]
    block: Block
    for block in section.blocks:
        if isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Formula):
            lines += [f"$$ {block.latex} $$", ""]
        elif isinstance(block, Table):
            counts["table"] += 1
            lines += _table(block, counts["table"])
        elif isinstance(block, Figure):
            counts["figure"] += 1
            lines += [f"![Figure {counts['figure']}]({figure_path(block)})", "",
                      f"*Figure {counts['figure']}.* {block.caption}", ""]
        elif block is claims[0]:
            lines += [*claims_markdown(claims), ""]
    return lines


def render_report_markdown(report: Report) -> str:
    """The whole report as Markdown; figures are referenced by :func:`figure_path`."""
    lines = [f"# {report.title}", ""]
    for paragraph in report.introduction:
        lines += [paragraph.text, ""]
    lines += ["## Contents", ""]
    for number, section in enumerate(report.sections, start=1):
        lines.append(f"{number}. [{section.title}](#{section.anchor})")
        lines += [f"   - [{b.claim.title}](#claim-{b.claim.id})"
                  for b in section.blocks if isinstance(b, ClaimBlock)]
    lines.append("")
    counts = {"figure": 0, "table": 0}
    for number, section in enumerate(report.sections, start=1):
        lines += _section(section, number, counts)
    return "\n".join(lines).rstrip() + "\n"
