"""Render a JSON conformance verdict as Markdown and as one self-contained HTML page.

Both show what was verified (implementation, version, convention and how it was obtained,
device, dtype, profile, seed), one row per property, an ulp-error histogram per property and,
for each failure, the counterexample with its exact and observed values and the snippet that
replays it. The histograms are computed from the verdict's per-example errors: in Markdown a
table of counts per quarter decade of ulps (plus an SVG figure per property when matplotlib is
installed), in HTML inline SVG figures. Nothing here runs the suite; the verdict is the input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

#: bins per decade of the ulp-error histograms
BINS_PER_DECADE = 4


@dataclass(frozen=True)
class Histogram:
    """Counts of per-example errors: ``exact`` examples with 0 ulps, then log-spaced bins."""

    exact: int
    edges: tuple[float, ...]  # len(counts) + 1 bin edges in ulps, ascending
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.exact + sum(self.counts)


def histogram(values: Sequence[float], per_decade: int = BINS_PER_DECADE) -> Histogram:
    """Log-spaced histogram of non-negative errors (0 counted apart: it has no logarithm)."""
    positive = [v for v in values if v > 0]
    exact = len(values) - len(positive)
    if not positive:
        return Histogram(exact, (), ())
    low = math.floor(math.log10(min(positive)) * per_decade)
    high = math.floor(math.log10(max(positive)) * per_decade) + 1
    edges = tuple(10.0 ** (k / per_decade) for k in range(low, high + 1))
    counts = [0] * (high - low)
    for v in positive:
        counts[min(max(math.floor(math.log10(v) * per_decade) - low, 0), len(counts) - 1)] += 1
    return Histogram(exact, edges, tuple(counts))


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def header(verdict: dict[str, Any]) -> list[tuple[str, str]]:
    """What was verified, as (field, value) pairs."""
    impl, conv = verdict["implementation"], verdict["convention"]
    found = conv.get("identification") or {}
    how = conv["source"] + (f" (identify: {found.get('convention') or 'null'})" if found else "")
    return [("implementation", f"{impl['spec']} ({impl['kind']} {impl['version']})"),
            ("constructor keywords", json.dumps(impl["kwargs"])),
            ("convention", f"{conv['spec']}: {conv['axes']}"), ("convention from", how),
            ("device / dtype", f"{verdict['device']} / {verdict['dtype']}"),
            ("profile / seed", f"{verdict['profile']} / {verdict['seed']}"),
            ("verdict", verdict["verdict"].upper()),
            ("properties", ", ".join(f"{n} {k}" for k, n in verdict["counts"].items())),
            ("time", f"{verdict['timing']['total_s']:.1f} s")]


COLUMNS = ("property", "outcome", "examples", "judged", "worst error/bound", "worst ulps", "detail")


def row(p: dict[str, Any]) -> tuple[str, ...]:
    ulps = p.get("ulps") or []
    failure = p.get("failure") or {}
    internal = p.get("internal_error") or {}
    detail = (str(failure.get("message", "")).splitlines()[0] if failure
              else f"internal error of radam-verify: {internal['exception']}" if internal
              else p.get("skip_reason", ""))
    return (p["property"], p["outcome"], _number(p.get("examples")), _number(p.get("judged")),
            _number(p.get("worst_ratio")), _number(max(ulps)) if ulps else "", detail)


def _bin_label(low: float, high: float) -> str:
    return f"{low:.3g} to {high:.3g}"


def _figure_name(p: dict[str, Any]) -> str:
    return "".join(c if c.isalnum() else "-" for c in p["id"].split("::")[-1]).strip("-")


def histogram_svg(p: dict[str, Any]) -> str | None:
    """Two panels for one property: errors in ulps and error/bound, per judged example."""
    from matplotlib.ticker import NullFormatter

    from radam_verify.report.figures import new_figure, svg_text

    ulps, ratios = p.get("ulps") or [], p.get("ratios") or []
    if not ulps:
        return None
    with new_figure(7.0, 2.3, columns=2) as (figure, axes):
        for ax, values, label, per_decade in (
                (axes[0], ulps, "worst error of the example (ulps)", BINS_PER_DECADE),
                (axes[1], ratios, "worst error / bound", 10)):
            h = histogram(values, per_decade)
            if h.counts:
                ax.stairs(h.counts, h.edges, fill=True, alpha=0.6)
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
            if label.endswith("bound"):
                ax.axvline(1.0, color="tab:red", linestyle="--", label="bound")
                ax.legend(loc="upper left", fontsize=8)
                if h.counts:
                    ax.set_xlim(h.edges[0], max(2.0, h.edges[-1]))
            ax.set_xlabel(label)
            ax.set_ylabel("examples")
            ax.set_title(f"{h.exact} of {h.total} exact (0 ulps)" if h.exact else f"{h.total} examples",
                         fontsize=9)
        figure.suptitle(p["property"], fontsize=10)
        return svg_text(figure)


def _figures(verdict: dict[str, Any]) -> dict[str, str]:
    """Property id -> SVG; empty when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return {}
    out = {}
    for p in verdict["properties"]:
        svg = histogram_svg(p)
        if svg is not None:
            out[p["id"]] = svg
    return out


def _failure_lines(failure: dict[str, Any]) -> list[str]:
    lines = [str(failure.get("message", ""))]
    if "exact" in failure:
        error, bound = _number(failure.get("error_ulps")), _number(failure.get("bound_ulps"))
        lines.append(f"exact {failure['exact']}, observed {failure.get('observed')}, error "
                     f"{error} ulps, bound {bound} ulps")
    return lines


def render_markdown(verdict: dict[str, Any], figures: dict[str, str] | None = None) -> str:
    """The verdict as Markdown; ``figures`` maps property id -> relative path of its SVG."""
    figures = figures or {}
    lines = [f"# radam-verify verdict: {verdict['implementation']['spec']} "
             f"{verdict['verdict'].upper()}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in header(verdict)]
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(c) for c in row(p)) + " |" for p in verdict["properties"]]
    for p in verdict["properties"]:
        h = histogram(p.get("ulps") or [])
        failure = p.get("failure")
        if not h.total and not failure:
            continue
        lines += ["", f"## {p['property']}", ""]
        if h.total:
            lines += [f"Error per judged example ({h.total}; {h.exact} exact):", "",
                      "| ulps | examples |", "|---|---|"]
            lines += [f"| {_bin_label(lo, hi)} | {n} |"
                      for lo, hi, n in zip(h.edges, h.edges[1:], h.counts, strict=False) if n]
            if p["id"] in figures:
                lines += ["", f"![ulp errors of {p['property']}]({figures[p['id']]})"]
        if failure:
            lines += ["", "Counterexample:", "", "```", *_failure_lines(failure), "```"]
            if failure.get("reproduction"):
                lines += ["", "```python", str(failure["reproduction"]), "```"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


EXTRA_STYLE = ("pre { white-space: pre-wrap; } td, th { text-align: left; vertical-align: top; } "
               "td:last-child { min-width: 22em; } main { max-width: 1500px; }")


def render_html(verdict: dict[str, Any], figures: dict[str, str]) -> str:
    """The verdict as one HTML page with the histograms inline (no external resource)."""
    from radam_verify.report.html_page import STYLE, inline_svg

    title = f"radam-verify verdict: {verdict['implementation']['spec']} {verdict['verdict'].upper()}"
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in header(verdict))
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row(p)) + "</tr>"
                   for p in verdict["properties"])
    sections = []
    for p in verdict["properties"]:
        parts = []
        if p["id"] in figures:
            parts.append(f"<figure>{inline_svg(figures[p['id']], _figure_name(p))}</figure>")
        failure = p.get("failure")
        if failure:
            parts.append("<p>Counterexample:</p><pre>" + escape("\n".join(_failure_lines(failure)))
                         + "</pre>")
            if failure.get("reproduction"):
                parts.append(f"<pre><code>{escape(str(failure['reproduction']))}</code></pre>")
        if parts:
            sections.append(f"<h2>{escape(p['property'])}</h2>" + "".join(parts))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{STYLE}\n{EXTRA_STYLE}"
            "</style>\n</head>\n<body>\n<main>\n"
            f"<h1>{escape(title)}</h1>\n<table>{facts}</table>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"
            + "\n".join(sections) + "\n</main>\n</body>\n</html>\n")


def write_conformance_report(verdict: dict[str, Any], json_path: Path) -> list[Path]:
    """Write the renderings of the verdict saved at ``json_path`` beside it: ``STEM.md``,
    ``STEM.html`` and the histogram figures in ``STEM-figures/``. Returns the paths written."""
    figures = _figures(verdict)
    stem = json_path.with_suffix("")
    folder = stem.parent / f"{stem.name}-figures"
    links: dict[str, str] = {}
    written = []
    if figures:
        folder.mkdir(parents=True, exist_ok=True)
        for p in verdict["properties"]:
            if p["id"] in figures:
                path = folder / f"{_figure_name(p)}.svg"
                path.write_text(figures[p["id"]])
                links[p["id"]] = f"{folder.name}/{path.name}"
                written.append(path)
    markdown, html = stem.with_suffix(".md"), stem.with_suffix(".html")
    markdown.write_text(render_markdown(verdict, links))
    html.write_text(render_html(verdict, figures))
    return [markdown, html, *written]
