"""Render a JSON conformance verdict as Markdown, as one self-contained HTML page, and as
a short Markdown summary for a CI job.

The pages show what was verified (implementation, version, convention and how it was
obtained, device, dtype, profile, seed, and the legend of the units), one row per property
(its title, test id and what it checks; what it looked at; its worst error against its
bound; for a failure the finding's one sentence), an error histogram per property and, for
each failure, the counterexample, the stand-alone script and the radam-verify snippet that
replay it. Errors are in ulps of the operand scale, the scale the bound is measured at;
ulps of the result are said beside them only. The histograms are computed from the
verdict's per-example errors: in Markdown a table of counts per quarter decade (plus an SVG
figure per property when matplotlib is installed), in HTML inline SVG figures that mark the
bounds. Nothing here runs the suite; the verdict is the input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

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
    if value == "inf":
        return "inf"
    return "" if value is None else str(value)


def provenance(impl: dict[str, Any]) -> str:
    """``torch-optimi 0.3.3, torch 2.13.0`` (older verdicts: the adapter kind and version)."""
    own = f"{impl.get('distribution', impl['kind'])} {impl['version']}"
    framework = impl.get("framework")
    return own if not framework or framework == own else f"{own}, {framework}"


def counted(counts: dict[str, int]) -> str:
    """``11 passed, 1 failed, 0 skipped, 0 internal errors``."""
    names = {"error": "internal errors"}
    return ", ".join(f"{n} {names.get(k, k)}" for k, n in counts.items())


def units(verdict: dict[str, Any]) -> dict[str, str]:
    """What the verdict's ulps are counted at (older verdicts: today's definition)."""
    from radam_verify.judge import UNITS

    return dict(verdict.get("units") or UNITS)


def platform(verdict: dict[str, Any]) -> str:
    """The platform's subnormal arithmetic and how it was judged, in words."""
    found = verdict.get("platform")
    if not found:
        return "(not recorded)"
    if found["flushes_subnormals"] is None:
        return "IEEE gradual underflow (probed)"
    how = ("judged as IEEE arithmetic with subnormals flushed" if found["subnormals"] == "flushed"
           else "judged strictly (--verify-subnormals=ieee)")
    return f"{found['flushes_subnormals']}; {how}"


def schedule(verdict: dict[str, Any]) -> str:
    """How accurate the schedule had to be, in words."""
    found = verdict.get("schedule")
    if found is None:
        return "(not recorded)"
    if found == "accurate":
        return "accurate: within 2 binary64 ulps of exact (--verify-schedule=accurate)"
    return "textbook: every legitimate binary64 evaluation allowed"


def identified_as(found: dict[str, Any]) -> str:
    """What identify named: a preset (with its axes' changes), or the reading no preset
    matches, or that no reading reproduced every probe."""
    if found.get("convention"):
        return str(found["convention"])
    if found.get("consistent") and found.get("verify_against"):
        return f"no preset matches; the reading {found['verify_against']}"
    return "no consistent reading"


def header(verdict: dict[str, Any]) -> list[tuple[str, str]]:
    """What was verified, as (field, value) pairs, ending with the legend of the units."""
    impl, conv = verdict["implementation"], verdict["convention"]
    found = conv.get("identification") or {}
    how = conv["source"] + (f" (identify: {identified_as(found)})" if found else "")
    legend = units(verdict)
    return [("implementation", f"{impl['spec']} ({provenance(impl)}; {impl['kind']} adapter)"),
            ("constructor keywords", json.dumps(impl["kwargs"])),
            ("set per group", ", ".join(impl.get("hyperparameter_keys") or []) or "(not recorded)"),
            ("state layout", (impl.get("state_layout") or {}).get("description", "(not recorded)")),
            ("convention", f"{conv['spec']}: {conv['axes']}"), ("convention from", how),
            ("device / dtype", f"{verdict['device']} / {verdict['dtype']}"),
            ("platform", platform(verdict)),
            ("schedule", schedule(verdict)),
            ("profile / seed", f"{verdict['profile']} / {verdict['seed']}"),
            ("verdict", verdict["verdict"].upper()),
            ("properties", counted(verdict["counts"])),
            ("time", f"{verdict['timing']['total_s']:.1f} s"),
            ("errors and bounds in", legend["errors"]),
            ("ulps of the result", legend["result_ulps"])]


COLUMNS = ("property", "outcome", "checked", "worst error / bound", "detail")


def title(p: dict[str, Any]) -> str:
    """The property's title (its claim in words; from the test id in older verdicts)."""
    from radam_verify.suite.report import title_of

    return str(p.get("title") or title_of(str(p.get("id") or p["property"])))


def checked(p: dict[str, Any]) -> str:
    """What the property looked at, in words: examples judged, or steps compared."""
    examples = p.get("examples")
    if examples is None:
        return ""
    if p.get("compared") or (p.get("judged") == 0 and p.get("compares")):
        return (f"{examples} examples, {p.get('compared', 0)} steps compared: "
                f"{p.get('compares', 'bit for bit')}")
    text = f"{examples} examples, {p.get('judged', 0)} judged against the exact step"
    if p.get("out_of_domain"):
        text += f", {p['out_of_domain']} out of the error model's domain"
    return text


def worst(p: dict[str, Any]) -> str:
    """The worst example's error against its bound, in ulps of the operand scale."""
    failure = p.get("failure") or {}
    if failure.get("bound_ulps") is not None:
        return (f"{_number(failure.get('error_ulps'))} of {_number(failure['bound_ulps'])} ulps "
                "(fails)")
    errors, bounds, ratios = p.get("errors") or [], p.get("bounds") or [], p.get("ratios") or []
    if not ratios:
        return "bit for bit" if p.get("compared") and p["outcome"] == "passed" else ""
    k = max(range(len(ratios)), key=ratios.__getitem__)
    if len(errors) != len(ratios) or len(bounds) != len(ratios):  # a verdict of an older schema
        return f"{ratios[k]:.2g} of the bound"
    text = f"{errors[k]:.3g} of {bounds[k]:.3g} ulps ({ratios[k]:.2g} of the bound)"
    share = p.get("schedule_share")
    if share:
        text += f"; the textbook schedule's allowance took up to {share:.0%} of a bound"
    return text


def detail(p: dict[str, Any]) -> str:
    failure = p.get("failure") or {}
    internal = p.get("internal_error") or {}
    if failure:
        return str(failure.get("sentence") or failure.get("message", "")).splitlines()[0]
    if internal:
        return f"internal error of radam-verify: {internal['exception']}"
    return str(p.get("skip_reason", ""))


def row(p: dict[str, Any]) -> tuple[str, ...]:
    return (title(p), p["outcome"], checked(p), worst(p), detail(p))


def _bin_label(low: float, high: float) -> str:
    return f"{low:.3g} to {high:.3g}"


def _figure_name(p: dict[str, Any]) -> str:
    return "".join(c if c.isalnum() else "-" for c in p["id"].split("::")[-1]).strip("-")


#: the three panels' place in a 9.6 x 2.6 inch figure: room for the suptitle above, the
#: panel titles, the log-scale tick labels and the axis labels
_HISTOGRAM_MARGINS = {"left": 0.06, "right": 0.99, "bottom": 0.19, "top": 0.8, "wspace": 0.3}


def histogram_svg(p: dict[str, Any]) -> str | None:
    """Three panels for one property, one value per judged example (its worst element): the
    errors in ulps of the operand scale beside the bounds in the same unit, each error
    against its own bound (the diagonal is the bound), and error / bound (the bound is 1)."""
    from matplotlib.ticker import NullLocator

    from radam_verify.report.figures import new_figure, svg_text

    errors, bounds, ratios = p.get("errors") or [], p.get("bounds") or [], p.get("ratios") or []
    if not errors:
        return None
    with new_figure(9.6, 2.6, columns=3, margins=_HISTOGRAM_MARGINS) as (figure, (spread, pairs, shares)):
        edges = histogram(errors + bounds).edges  # common bins for errors and bounds
        e = histogram(errors)
        if edges:
            def counts(values: Sequence[float]) -> list[int]:
                return [int(n) for n in np.histogram([v for v in values if v > 0], edges)[0]]

            spread.stairs(counts(errors), edges, fill=True, alpha=0.6, label="errors")
            spread.stairs(counts(bounds), edges, color="tab:red", linewidth=1.5,
                          label="bounds")
            spread.set_xscale("log")
            spread.xaxis.set_minor_locator(NullLocator())  # a tick object each: the cost
            spread.legend(loc="upper right", fontsize=8)
        spread.set_xlabel("ulps of the operand scale")
        spread.set_ylabel("examples")
        spread.set_title(f"{e.exact} of {e.total} exact (0 ulps)" if e.exact
                         else f"{e.total} examples", fontsize=9)
        shown = [(x, y) for x, y in zip(bounds, errors, strict=False) if x > 0 and y > 0]
        if shown:
            xs, ys = zip(*shown, strict=True)
            low, high = min(xs + ys) / 2, max(xs + ys) * 2
            pairs.fill_between([low, high], [low, high], [high, high], color="tab:red",
                               alpha=0.1, label="outside the bound")
            pairs.plot([low, high], [low, high], color="tab:red", linestyle="--", label="bound")
            pairs.scatter(xs, ys, s=10, alpha=0.7)
            pairs.set_xscale("log")
            pairs.set_yscale("log")
            pairs.xaxis.set_minor_locator(NullLocator())
            pairs.yaxis.set_minor_locator(NullLocator())
            pairs.set_xlim(low, high)
            pairs.set_ylim(low, high)
            pairs.legend(loc="upper left", fontsize=8)
        pairs.set_xlabel("bound (ulps of the operand scale)")
        pairs.set_ylabel("error (same unit)")
        pairs.set_title("each example: error against its bound", fontsize=9)
        r = histogram(ratios, 10)
        if r.counts:
            shares.stairs(r.counts, r.edges, fill=True, alpha=0.6)
            shares.set_xscale("log")
            shares.xaxis.set_minor_locator(NullLocator())
            shares.set_xlim(r.edges[0], max(2.0, r.edges[-1]))
        shares.axvline(1.0, color="tab:red", linestyle="--", label="bound")
        shares.legend(loc="upper left", fontsize=8)
        shares.set_xlabel("error / bound")
        shares.set_ylabel("examples")
        shares.set_title("share of the bound used", fontsize=9)
        figure.suptitle(title(p), fontsize=10)
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
                     f"{error} ulps, bound {bound} ulps of the operand scale; "
                     f"{_number(failure.get('result_ulps'))} ulps of the result")
    return lines


def _beside(p: dict[str, Any]) -> str:
    """The bounds' span and the result-relative ulps, said beside the histogram."""
    bounds, result = p.get("bounds") or [], p.get("result_ulps") or []
    parts = []
    if bounds:
        parts.append(f"bounds from {min(bounds):.3g} to {max(bounds):.3g} ulps of the operand scale")
    if result:
        parts.append(f"in ulps of the result, errors up to {max(result):.3g} (large where the "
                     "result cancels; not what the bound measures)")
    return "; ".join(parts)


def render_markdown(verdict: dict[str, Any], figures: dict[str, str] | None = None) -> str:
    """The verdict as Markdown; ``figures`` maps property id -> relative path of its SVG."""
    figures = figures or {}
    lines = [f"# radam-verify verdict: {verdict['implementation']['spec']} "
             f"{verdict['verdict'].upper()}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in header(verdict)]
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for p in verdict["properties"]:
        cells = [_cell(c) for c in row(p)]
        cells[0] = f"{cells[0]}<br>`{p['id']}`<br>{_cell(str(p.get('checks', '')))}"
        lines.append("| " + " | ".join(cells) + " |")
    for p in verdict["properties"]:
        h = histogram(p.get("errors") or [])
        failure = p.get("failure")
        if not h.total and not failure:
            continue
        lines += ["", f"## {title(p)}", "", f"`{p['id']}`: {p.get('checks', '')}", ""]
        if h.total:
            lines += [f"Worst error of each judged example ({h.total}; {h.exact} exact), in ulps "
                      f"of the operand scale; {_beside(p)}:", "",
                      "| ulps of the operand scale | examples |", "|---|---|"]
            lines += [f"| {_bin_label(lo, hi)} | {n} |"
                      for lo, hi, n in zip(h.edges, h.edges[1:], h.counts, strict=False) if n]
            if p["id"] in figures:
                lines += ["", f"![errors of {title(p)}]({figures[p['id']]})"]
        if failure:
            lines += ["", f"**{_cell(detail(p))}**", "", "Counterexample:", "", "```",
                      *_failure_lines(failure), "```"]
            if failure.get("script"):
                lines += ["", f"Stand-alone reproduction (no radam-verify needed): "
                          f"[{failure['script']}]({failure['script']})"]
            if failure.get("reproduction"):
                lines += ["", "With radam-verify:", "", "```python", str(failure["reproduction"]),
                          "```"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


#: fits a 1280 px window: the table wraps inside the page, long text breaks anywhere
EXTRA_STYLE = (
    "main { max-width: 1200px; } "
    "table.properties { table-layout: fixed; width: 100%; border-collapse: collapse; } "
    "table.properties col.property { width: 26%; } table.properties col.outcome { width: 8%; } "
    "table.properties col.checked { width: 18%; } table.properties col.worst { width: 13%; } "
    "td, th { text-align: left; vertical-align: top; overflow-wrap: break-word; } "
    "td .id { display: block; color: #57606a; font-size: 0.8em; overflow-wrap: anywhere; } "
    "td .checks { display: block; color: #57606a; font-size: 0.85em; } "
    "table.facts th { width: 12em; white-space: nowrap; } "
    "table.facts td { overflow-wrap: anywhere; } "
    "pre { white-space: pre-wrap; overflow-wrap: anywhere; } "
    ".failed { color: #a40e26; font-weight: 600; }")


def render_html(verdict: dict[str, Any], figures: dict[str, str]) -> str:
    """The verdict as one HTML page with the histograms inline (no external resource)."""
    from radam_verify.report.html_page import STYLE, inline_svg

    name = f"radam-verify verdict: {verdict['implementation']['spec']} {verdict['verdict'].upper()}"
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in header(verdict))
    cols = "".join(f'<col class="{c}">' for c in ("property", "outcome", "checked", "worst", "detail"))
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = []
    for p in verdict["properties"]:
        cells = [escape(c) for c in row(p)]
        cells[0] = (f"{cells[0]}<span class=\"id\">{escape(p['id'])}</span>"
                    f"<span class=\"checks\">{escape(str(p.get('checks', '')))}</span>")
        if p["outcome"] in ("failed", "error"):
            cells[1] = f"<span class=\"failed\">{cells[1]}</span>"
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    sections = []
    for p in verdict["properties"]:
        parts = []
        if p.get("errors"):
            parts.append(f"<p>{escape(_beside(p))}.</p>")
        if p["id"] in figures:
            parts.append(f"<figure>{inline_svg(figures[p['id']], _figure_name(p))}</figure>")
        failure = p.get("failure")
        if failure:
            parts.append(f"<p class=\"failed\">{escape(detail(p))}</p>")
            parts.append("<p>Counterexample:</p><pre>" + escape("\n".join(_failure_lines(failure)))
                         + "</pre>")
            if failure.get("script"):
                link = escape(str(failure["script"]))
                parts.append(f"<p>Stand-alone reproduction (no radam-verify needed): "
                             f"<a href=\"{link}\">{link}</a></p>")
            if failure.get("reproduction"):
                parts.append("<p>With radam-verify:</p>"
                             f"<pre><code>{escape(str(failure['reproduction']))}</code></pre>")
        if parts:
            sections.append(f"<h2>{escape(title(p))}</h2><p><code>{escape(p['id'])}</code>: "
                            f"{escape(str(p.get('checks', '')))}</p>" + "".join(parts))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(name)}</title>\n<style>{STYLE}\n{EXTRA_STYLE}"
            "</style>\n</head>\n<body>\n<main>\n"
            f"<h1>{escape(name)}</h1>\n<table class=\"facts\">{facts}</table>\n"
            f"<table class=\"properties\"><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>\n"
            + "\n".join(sections) + "\n</main>\n</body>\n</html>\n")


def render_summary(verdict: dict[str, Any]) -> str:
    """A short Markdown summary for a CI job summary: the verdict, each failing property with
    its one sentence and a link to its stand-alone script."""
    impl = verdict["implementation"]
    counts = counted(verdict["counts"])
    lines = [f"### radam-verify: {impl['spec']} {verdict['verdict'].upper()}", "",
             f"{provenance(impl)}, convention {verdict['convention']['spec']}, "
             f"{verdict['dtype']} on {verdict['device']}, profile {verdict['profile']}: {counts}.",
             ""]
    for p in verdict["properties"]:
        if p["outcome"] not in ("failed", "error"):
            continue
        script = (p.get("failure") or {}).get("script")
        link = f" ([repro script]({script}))" if script else ""
        lines.append(f"- **{_cell(title(p))}** ({p['outcome']}): {_cell(detail(p))}{link}")
    if lines[-1] == "":
        lines.append("Every property passed or was skipped with its reason.")
    return "\n".join(lines) + "\n"


def write_conformance_report(verdict: dict[str, Any], json_path: Path) -> list[Path]:
    """Write the renderings of the verdict saved at ``json_path`` beside it: ``STEM.md``,
    ``STEM.html``, the CI summary ``STEM-summary.md`` and the histogram figures in
    ``STEM-figures/``. Returns the paths written."""
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
    if folder.is_dir():  # the folder is the report's own: figures of an earlier rendering go
        for stale in set(folder.glob("*.svg")) - set(written):
            stale.unlink()
    markdown, html = stem.with_suffix(".md"), stem.with_suffix(".html")
    summary = stem.parent / f"{stem.name}-summary.md"
    markdown.write_text(render_markdown(verdict, links))
    html.write_text(render_html(verdict, figures))
    summary.write_text(render_summary(verdict))
    return [markdown, html, summary, *written]
