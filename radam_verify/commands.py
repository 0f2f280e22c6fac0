"""Handlers of ``radam-verify check``, ``identify``, ``report``, ``repro`` and ``matrix``
(parsers live in cli.py)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from radam_verify import progress
from radam_verify.errors import UsageError

EXIT_OK, EXIT_FAILED, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 3, 4


def check(args: argparse.Namespace) -> int:
    """Run the packaged suite through pytest and print a verdict table."""
    import pytest

    verdict_file = Path(args.report) / "verdict.json" if args.report else None
    with tempfile.TemporaryDirectory() as scratch:
        argv = [f"--verify-impl={args.spec}", f"--verify-convention={args.convention}",
                f"--verify-kwargs={args.kwargs}", f"--verify-device={args.device}",
                f"--verify-dtype={args.dtype}", f"--verify-seed={args.seed}",
                f"--verify-shrink={args.shrink}", f"--verify-subnormals={args.subnormals}",
                f"--verify-schedule={args.schedule}",
                "-p", "no:cacheprovider", "-q" if not args.verbose else "-v",
                # the properties report through their own messages, not pytest's assertion
                # introspection, and rewriting every radam_verify module on each start (and in
                # each worker) costs seconds
                "--assert=plain",
                f"--rootdir={scratch}", "-c", "/dev/null"]
        if verdict_file is not None:  # the plugin writes the JSON and its renderings
            argv.append(f"--verify-report={verdict_file}")
        if args.profile:
            argv.append(f"--verify-profile={args.profile}")
        if args.workers is not None:
            argv += ["-n", str(args.workers)]
        if args.step_timeout is not None:
            argv.append(f"--verify-step-timeout={args.step_timeout}")
        kept = _KeepVerdict()
        code = int(pytest.main(argv, plugins=[kept]))
    if code == EXIT_USAGE or kept.verdict is None:
        return code
    print(render_table(kept.verdict))
    if verdict_file is not None:
        print(f"wrote {verdict_file} and its renderings verdict.md, verdict.html, "
              "verdict-summary.md (and repro/ for each failure)")
    return {"conforms": EXIT_OK, "error": EXIT_INTERNAL}.get(kept.verdict["verdict"], EXIT_FAILED)


class _KeepVerdict:
    """A pytest plugin that keeps the run's verdict (from the radam-verify collector)."""

    def __init__(self) -> None:
        self.verdict: dict[str, Any] | None = None

    def pytest_sessionfinish(self, session: Any) -> None:
        collector = session.config.pluginmanager.get_plugin("radam-verify-collector")
        if collector is not None and not hasattr(session.config, "workerinput"):
            self.verdict = collector.verdict()


#: the columns of the plain-text table (the pages also say what each property checked)
TEXT_COLUMNS = ("property", "outcome", "worst error / bound", "detail")


def _row(p: dict[str, Any]) -> tuple[str, ...]:
    from radam_verify.report.conformance import row

    name, outcome, _, worst, detail = row(p)
    return (name, outcome, worst, detail[:160])


def render_table(verdict: dict[str, Any]) -> str:
    """The verdict as a plain-text table with a header naming what was verified."""
    from radam_verify.report.conformance import header

    rows = [TEXT_COLUMNS, *(_row(p) for p in verdict["properties"])]
    widths = [max(len(r[i]) for r in rows) for i in range(len(TEXT_COLUMNS) - 1)]
    lines = [f"{key}: {value}" for key, value in header(verdict)] + [""]
    for cells in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=False))
                     + "  " + cells[-1])
    lines += ["", f"verdict: {verdict['verdict'].upper()}"]
    return "\n".join(lines)


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


def repro(args: argparse.Namespace) -> int:
    """Write the stand-alone scripts of a saved verdict and re-render it with their links."""
    from radam_verify.adapters import load_adapter
    from radam_verify.report.conformance import write_conformance_report
    from radam_verify.suite.report import dumps
    from radam_verify.suite.standalone import FOLDER, write_scripts

    path = Path(args.verdict)
    try:
        verdict = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read the verdict {path}: {error}; pass the verdict.json that "
                         "check --report wrote") from None
    impl = verdict.get("implementation") if isinstance(verdict, dict) else None
    if not isinstance(impl, dict) or "properties" not in verdict:
        raise UsageError(f"{path} is not a radam-verify verdict (no implementation and "
                         "properties); pass the verdict.json that check --report wrote")
    adapter = load_adapter(impl["spec"], impl.get("kwargs", {}), verdict.get("device", "cpu"),
                           verdict.get("dtype", "float32"))
    written = write_scripts(adapter, verdict, path.parent / FOLDER)
    path.write_text(dumps(verdict))
    write_conformance_report(verdict, path)
    for script in written:
        print(f"wrote {script}")
    for p in verdict["properties"]:
        why = (p.get("failure") or {}).get("script_error")
        if why:
            print(f"no script for {p['property']}: {why}")
    print(f"rewrote {path} and its renderings ({len(written)} scripts)")
    return EXIT_OK


def matrix(args: argparse.Namespace) -> int:
    """Run the compatibility matrix (or only re-render it) and write its table."""
    from radam_verify.matrix import page
    from radam_verify.matrix.run import run_matrix, select
    from radam_verify.suite.profiles import get_profile

    get_profile(args.profile)  # a bad name is a usage error before anything runs
    if args.only and not select(args.only):
        raise UsageError(f"--only {args.only} matches no configuration; the folder names are "
                         "listed in reports/matrix/matrix.json")
    if not select(args.only, args.shard):
        raise UsageError(f"--shard {args.shard[0]}/{args.shard[1]} selects no configuration: "
                         f"there are only {len(select(args.only))}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.render_only:
        run_matrix(out, args.profile, args.workers, args.seed, args.only,
                   show=progress.show, say=_say, shard=args.shard)
    progress.clear()
    print(f"wrote {page.write(out)}")
    return EXIT_OK


def _say(line: str) -> None:
    progress.clear()
    print(line, flush=True)
