"""The compatibility matrix as one Markdown page, built from the verdicts on disk.

One row per configuration: implementation, version, configuration, the convention the
probes identified, the convention verified against, the verdict, and for each failed
property one line: the explanation (from :mod:`radam_verify.matrix.configurations`) with
its hand-written script, the minimal counterexample's sentence from the verdict, and the
stand-alone script the verdict generated for it. A failure no finding explains is marked
unexplained; a finding no counterexample shows is marked as not shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from radam_verify.matrix.configurations import CONFIGURATIONS, NOT_RUN, Configuration, Finding


def _finding(config: Configuration, prop: str, message: str) -> Finding | None:
    return next((f for f in config.findings if f.explains(prop, message)), None)


def _identified(found: dict[str, Any] | None) -> str:
    """What identify named: the preset, the axes of a reading no preset matches, or that
    no reading reproduced every probe."""
    if not found:
        return ""
    if found.get("convention"):
        return f"`{found['convention']}`"
    axes = ", ".join(f"{k}={v}" for k, v in found.get("axes", {}).items() if v is not None)
    return (f"no preset ({axes})" if found.get("consistent", True)
            else "none (no reading reproduces every probe)")


def _counterexample(failure: dict[str, Any]) -> str:
    return str(failure.get("message", "")).splitlines()[0] if failure else ""


def deviations(config: Configuration, verdict: dict[str, Any]) -> list[str]:
    """One line per failed property, and one per finding that no failure reproduced.

    Each failure links the stand-alone script its verdict wrote for the counterexample
    (``<slug>/repro/<property>.py``) and, where the finding has one, the hand-written script
    in ``reports/repro/`` that explains its cause.
    """
    lines, used = [], set()
    for p in verdict["properties"]:
        if p["outcome"] == "error":
            lines.append(f"`{p['property']}`: **internal error of radam-verify**, no verdict (not "
                         f"a finding about the implementation): {p['internal_error']['exception']}")
        if p["outcome"] != "failed":
            continue
        failure = p.get("failure") or {}
        message = _counterexample(failure)
        finding = _finding(config, p["property"], str(failure.get("message", "")))
        if finding:
            used.add(finding)
        why = (f"{finding.explanation} ([cause explained](../repro/{finding.repro}))" if finding
               else "**unexplained**")
        script = failure.get("script")
        generated = f" ([repro script]({config.slug}/{script}))" if script else ""
        lines.append(f"`{p['property']}`: {why}. Counterexample: "
                     f"{failure.get('sentence') or message}{generated}")
    lines += [f"`{f.properties}...`: expected finding not shown by this run's counterexamples ({f.repro})"
              for f in config.findings if f not in used]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(out: Path) -> str:
    """The matrix page for the runs stored under ``out`` (paths in it relative to ``out``)."""
    lines = ["# RAdam compatibility matrix", "",
             "Written by `make matrix` (`radam-verify matrix`) from the verdicts in this "
             "folder; each row links its verdict (JSON, Markdown with ulp histograms).", "",
             "| implementation | version | configuration | identified | verified against | "
             "verdict | deviations |", "|---|---|---|---|---|---|---|"]
    details = []
    seconds: dict[str, float] = {}  # profile -> total time of the rows run with it
    for config in CONFIGURATIONS:
        folder = out / config.slug
        where = f"{config.label} ({config.dtype}, {config.device})"
        kwargs = f"<br>`{json.dumps(dict(config.kwargs))}`" if config.kwargs else ""
        skipped = folder / "skipped.txt"
        verdict_file = folder / "verdict.json"
        if skipped.exists() or not verdict_file.exists():
            reason = skipped.read_text().strip() if skipped.exists() else "not run yet"
            lines.append(f"| {config.spec} | | {where}{kwargs} | | | {reason} | |")
            continue
        verdict = json.loads(verdict_file.read_text())
        found = (json.loads((folder / "identify.json").read_text())
                 if (folder / "identify.json").exists() else None)
        against = f"`{verdict['convention']['spec']}`"
        if config.documented:
            against += f" (documented: {config.documented})"
        layout = (verdict["implementation"].get("state_layout") or {}).get("description")
        if layout:
            against += f"; state: {layout}"
        if config.environment:
            where += f", environment `{config.environment}`"
        seconds[verdict["profile"]] = seconds.get(verdict["profile"], 0.0) + float(
            verdict["timing"]["total_s"])
        counts = verdict["counts"]
        errors = f"{counts['error']} internal errors, " if counts.get("error") else ""
        outcome = (f"[{verdict['verdict']}]({config.slug}/verdict.md): {errors}"
                   f"{counts['failed']} failed, {counts['passed']} passed, {counts['skipped']} skipped; "
                   f"{verdict['profile']}, {verdict['timing']['total_s']:.0f} s")
        found_lines = deviations(config, verdict)
        summary = f"{len(found_lines)}, see below" if found_lines else ""
        cells = [_cell(config.spec), _cell(verdict["implementation"]["version"]),
                 _cell(where) + kwargs,
                 *(_cell(c) for c in (_identified(found), against, outcome, summary))]
        lines.append("| " + " | ".join(cells) + " |")
        if found_lines:
            details += ["", f"### {config.spec}, {where}", ""] + [f"- {_cell(x)}" for x in found_lines]
    if seconds:
        lines += ["", "Time of the runs shown, one after another on this machine: " + "; ".join(
            f"{profile} profile {total / 3600:.1f} h" for profile, total in sorted(seconds.items()))
            + "."]
    if details:
        lines += ["", "## Deviations", *details]
    lines += ["", "## Not in the matrix", ""]
    lines += [f"- **{name}**: {why}." for name, why in NOT_RUN.items()]
    return "\n".join(lines) + "\n"


def write(out: Path) -> Path:
    """Write ``out/README.md`` (the matrix) and ``out/matrix.json`` (the index of runs)."""
    page = out / "README.md"
    page.write_text(render(out))
    index = [{"spec": c.spec, "configuration": c.label, "kwargs": dict(c.kwargs),
              "dtype": c.dtype, "device": c.device, "convention": c.convention,
              "folder": c.slug} for c in CONFIGURATIONS]
    (out / "matrix.json").write_text(json.dumps(index, indent=2) + "\n")
    return page
