"""Handlers of ``radam-verify check``, ``identify`` and ``report`` (parsers live in cli.py)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from radam_verify import progress
from radam_verify.errors import UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 4


def check(args: argparse.Namespace) -> int:
    """Run the packaged suite through pytest and print a verdict table."""
    import pytest

    with tempfile.TemporaryDirectory() as scratch:
        verdict_file = Path(scratch) / "verdict.json"
        argv = [f"--verify-impl={args.spec}", f"--verify-convention={args.convention}",
                f"--verify-kwargs={args.kwargs}", f"--verify-device={args.device}",
                f"--verify-dtype={args.dtype}", f"--verify-seed={args.seed}",
                f"--verify-shrink={args.shrink}", f"--verify-report={verdict_file}",
                "-p", "no:cacheprovider", "-q" if not args.verbose else "-v",
                f"--rootdir={scratch}", "-c", "/dev/null"]
        if args.profile:
            argv.append(f"--verify-profile={args.profile}")
        if args.workers:
            argv += ["-n", str(args.workers)]
        code = int(pytest.main(argv))
        if code == EXIT_USAGE or not verdict_file.exists():
            return code
        verdict = json.loads(verdict_file.read_text())
    print(render_table(verdict))
    if args.report:
        out = Path(args.report)
        out.mkdir(parents=True, exist_ok=True)
        (out / "verdict.json").write_text(json.dumps(verdict, indent=2) + "\n")
        (out / "verdict.md").write_text(render_markdown(verdict))
        print(f"wrote {out / 'verdict.json'} and {out / 'verdict.md'}")
    return EXIT_OK if verdict["verdict"] == "conforms" else EXIT_FAILED


def _row(p: dict[str, Any]) -> tuple[str, ...]:
    ratio = p.get("worst_ratio")
    ulps = max(p.get("ulps") or [0.0])
    detail = p.get("skip_reason") or ""
    failure = p.get("failure") or {}
    if failure:
        detail = str(failure.get("message", "")).splitlines()[0][:100]
    return (p["property"], p["outcome"], str(p.get("examples", "")),
            "" if ratio is None else f"{ratio:.3g}", f"{ulps:.3g}" if p.get("ulps") else "", detail)


HEADINGS = ("property", "outcome", "examples", "err/bound", "worst ulps", "detail")


def render_table(verdict: dict[str, Any]) -> str:
    """The verdict as a plain-text table with a header naming what was verified."""
    rows = [HEADINGS, *(_row(p) for p in verdict["properties"])]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADINGS) - 1)]
    lines = [_header(verdict), ""]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                     + "  " + row[-1])
    lines += ["", f"verdict: {verdict['verdict'].upper()}"]
    return "\n".join(lines)


def _header(verdict: dict[str, Any]) -> str:
    impl, conv = verdict["implementation"], verdict["convention"]
    return (f"{impl['spec']} ({impl['kind']} {impl['version']}, kwargs {json.dumps(impl['kwargs'])})\n"
            f"convention {conv['spec']} ({conv['source']}); device {verdict['device']}, dtype "
            f"{verdict['dtype']}, profile {verdict['profile']}, seed {verdict['seed']}, "
            f"{verdict['timing']['total_s']:.1f} s")


def render_markdown(verdict: dict[str, Any]) -> str:
    """The verdict as a Markdown table (the JSON file holds every detail)."""
    lines = [f"# radam-verify verdict: {verdict['verdict']}", "", "```", _header(verdict), "```", "",
             "| " + " | ".join(HEADINGS) + " |", "|" + "---|" * len(HEADINGS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in _row(p)) + " |"
              for p in verdict["properties"]]
    for p in verdict["properties"]:
        failure = p.get("failure")
        if failure and failure.get("reproduction"):
            lines += ["", f"## {p['property']}", "", "```", str(failure.get("message", "")), "```",
                      "", "```python", str(failure["reproduction"]), "```"]
    return "\n".join(lines) + "\n"


def identify(args: argparse.Namespace) -> int:
    """Identify the convention of an implementation and print the axes with their evidence."""
    from radam_verify.adapters import load_adapter
    from radam_verify.identify import identify as run_identify

    try:
        kwargs = json.loads(args.kwargs)
    except json.JSONDecodeError as error:
        raise UsageError(f"--kwargs is not valid JSON ({error.msg}); pass an object such as "
                         "'{\"foreach\": true}'") from None
    if not isinstance(kwargs, dict):
        raise UsageError("--kwargs must be a JSON object, e.g. '{\"foreach\": true}'")
    adapter = load_adapter(args.spec, kwargs, args.device, args.dtype)
    found = run_identify(adapter, progress.show)
    progress.clear()
    if args.json:
        print(json.dumps(found.as_json(), indent=2))
        return EXIT_OK
    print(f"{adapter.describe()}")
    print(f"convention: {found.preset or 'null (no preset matches)'}")
    for axis, value in found.axes.items():
        shown = value if value is not None else f"undetermined: {found.undetermined.get(axis, '?')}"
        print(f"  {axis:14s} {shown}")
    print("evidence:")
    for line in found.evidence:
        print(f"  - {line}")
    return EXIT_OK


def report(args: argparse.Namespace) -> int:
    """Write the derivation report (HTML and Markdown) into ``--out``."""
    from radam_verify.report import write_derivation_report

    paths = write_derivation_report(Path(args.out), progress=progress.show)
    progress.clear()
    for path in paths:
        print(f"wrote {path}")
    return EXIT_OK
