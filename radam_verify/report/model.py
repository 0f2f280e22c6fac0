"""The report as data: sections of paragraphs, formulas, tables, figures and claims.

The content is built once (:mod:`radam_verify.report.sections`) and rendered twice, to
HTML and to Markdown, so the two files cannot say different things.
"""

from __future__ import annotations

from dataclasses import dataclass

from radam_verify.derivation import Claim


@dataclass(frozen=True)
class Paragraph:
    """Plain prose (no markup); renderers escape it."""

    text: str


@dataclass(frozen=True)
class Formula:
    """A displayed formula, in the LaTeX that SymPy or a claim wrote."""

    latex: str


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells; ``header`` and every row have the same length."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    """A figure drawn by matplotlib: ``name`` is its file stem and anchor, ``svg`` the drawing."""

    name: str
    caption: str
    svg: str


@dataclass(frozen=True)
class ClaimBlock:
    """A checked claim of the derivation, with its number in the report."""

    number: int
    claim: Claim


@dataclass(frozen=True)
class Chapter:
    """The heading of one algorithm's claims (RAdam, Adam, AMSGrad, LAMB, Lookahead)."""

    title: str


Block = Paragraph | Formula | Table | Figure | ClaimBlock | Chapter


@dataclass(frozen=True)
class Section:
    """A numbered section of the report; ``anchor`` is its fragment identifier."""

    anchor: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Report:
    """The whole report: a title, an introduction and the sections in order."""

    title: str
    introduction: tuple[Paragraph, ...]
    sections: tuple[Section, ...]

    def figures(self) -> list[Figure]:
        """Every figure, in the order it appears."""
        return [block for section in self.sections for block in section.blocks
                if isinstance(block, Figure)]

    def claims(self) -> list[ClaimBlock]:
        """Every claim block, in the order it appears."""
        return [block for section in self.sections for block in section.blocks
                if isinstance(block, ClaimBlock)]
