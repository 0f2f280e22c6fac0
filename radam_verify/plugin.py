"""The pytest plugin (entry point ``pytest11``): ``pytest --verify-impl=MODULE:ATTR``.

With ``--verify-impl`` the packaged suite (``radam_verify/suite``) is collected instead of
the user's tests and run against that implementation. This module holds only options and
hooks; the work happens in :mod:`radam_verify.suite`, imported inside the hooks, so pytest
runs that do not verify anything pay nothing. State lives in ``config.stash``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from radam_verify.suite.options import OPTIONS

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from radam_verify.identify import Identification
    from radam_verify.suite.options import VerifyOptions
    from radam_verify.suite.target import Record, Target

SUITE_DIR = Path(__file__).parent / "suite"
WORKER_CONVENTION = "radam_verify_convention"
#: what the controller passes on to its xdist workers: the slowest call it saw while probing
#: (the step limit is derived from it) and the folder of the workers' records
WORKER_SLOWEST, WORKER_RECORDS = "radam_verify_slowest_call_s", "radam_verify_records"
RECORD, FAILURE = "radam_verify_record", "radam_verify_failure"
TITLE = "radam_verify_title"
#: an exception raised inside the suite itself (not by the implementation): an error outcome
INTERNAL = "radam_verify_internal_error"


@dataclass
class Run:
    """One verification run: what was asked, the target, and the results so far."""

    options: VerifyOptions
    target: Target
    identification: Identification | None
    started: float = field(default_factory=time.time)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the controller's folder of worker records and its warden (under xdist)
    records: Path | None = None
    warden: Any = None


RUN_KEY = pytest.StashKey[Run]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("radam-verify", "RAdam conformance suite (radam-verify)")
    for flag, (dest, metavar, text) in OPTIONS.items():
        group.addoption(flag, dest=dest, metavar=metavar, default=None, help=text)
        parser.addini(dest, f"{text} (same as {flag})", default="")


def _values(config: pytest.Config) -> dict[str, str | None]:
    return {dest: config.getoption(dest) or str(config.getini(dest) or "") or None
            for dest, _, _ in OPTIONS.values()}


#: a verification runs its properties in this many xdist worker processes unless ``-n`` says
#: otherwise, so that a property whose implementation hangs in native code or kills its
#: process fails alone; ``-n 0`` runs them in pytest's own process (e.g. to debug)
DEFAULT_WORKERS = 1
#: workers xdist may start in place of dead ones (each death fails one property)
MAX_WORKER_RESTARTS = "100"


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, object, object]:
    """Before xdist reads its options: a verification runs in a worker process by default."""
    option = config.option
    if (_values(config)["verify_impl"] and not hasattr(config, "workerinput")
            and hasattr(option, "numprocesses") and not option.usepdb
            and not option.collectonly):
        if option.numprocesses is None and getattr(option, "dist", "no") == "no":
            option.numprocesses = DEFAULT_WORKERS
        if option.numprocesses and getattr(option, "maxworkerrestart", None) is None:
            option.maxworkerrestart = MAX_WORKER_RESTARTS
    return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    values = _values(config)
    if not values["verify_impl"]:
        return
    from radam_verify import progress
    from radam_verify.errors import RadamVerifyError
    from radam_verify.suite.options import VerifyOptions, build_target

    worker: dict[str, Any] = getattr(config, "workerinput", {})
    try:
        options = VerifyOptions.parse(values)
        target, identification = build_target(
            options, progress=None if worker else progress.show,
            identified=worker.get(WORKER_CONVENTION), limit_s=worker.get(WORKER_SLOWEST))
    except RadamVerifyError as error:
        raise pytest.UsageError(str(error)) from None
    if not worker:
        progress.clear()
    run = Run(options, target, identification)
    config.stash[RUN_KEY] = run
    config.args[:] = [str(SUITE_DIR)]
    config.pluginmanager.register(_Collector(run, config), "radam-verify-collector")
    if worker.get(WORKER_RECORDS):
        from radam_verify import watchdog

        watchdog.record_in(Path(worker[WORKER_RECORDS]), str(worker["workerid"]))
    elif _distributed(config):
        import tempfile

        from radam_verify import watchdog

        run.records = Path(tempfile.mkdtemp(prefix="radam-verify-workers-"))
        assert target.step_limit is not None
        run.warden = watchdog.Warden(run.records, target.step_limit.seconds, progress.show)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(), "radam-verify-xdist")


def _distributed(config: pytest.Config) -> bool:
    """Whether this process is an xdist controller that sends the properties to workers."""
    return (config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput")
            and getattr(config.option, "dist", "no") != "no"
            and not config.getoption("collectonly", False))


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None and run.records is not None:
        import shutil

        run.warden.stop()
        shutil.rmtree(run.records, ignore_errors=True)


class _XdistHooks:
    """Workers reuse the controller's identification (same convention, no repeated probes)
    and its step limit, and keep their records where the controller reads them when one
    dies (:mod:`radam_verify.watchdog`)."""

    def pytest_configure_node(self, node: Any) -> None:
        run = node.config.stash.get(RUN_KEY, None)
        if run is None:
            return
        if run.target.convention_source != "given":
            node.workerinput[WORKER_CONVENTION] = run.target.convention.spec
        from radam_verify import watchdog

        node.workerinput[WORKER_SLOWEST] = watchdog.slowest_call_s()
        if run.records is not None:
            node.workerinput[WORKER_RECORDS] = str(run.records)

    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport,
                               sched: Any) -> None:
        """A worker died in a property: say why, with the example it was running."""
        del sched
        run = report.node.config.stash.get(RUN_KEY, None)
        if run is None or run.records is None:
            return
        from radam_verify import watchdog

        found = watchdog.death(run.records, str(report.node.gateway.id))
        name = crashitem.split("::")[-1]
        report.user_properties.append((TITLE, describe_property(name)))
        if found is None:
            return
        details: dict[str, object] = {"property": name, "message": found.message,
                                      "sentence": f"{run.target.adapter.spec}: {found.message}",
                                      "quantity": found.quantity}
        if found.case is not None:
            details.update(case=found.case["case"], reproduction=found.case["reproduction"])
            details["sentence"] = (f"{run.target.adapter.spec}: {found.case['what']}: "
                                   f"{found.message}")
        report.longrepr = (f"{details['sentence']}\n" + (
            f"the example it was running, as the counterexample so far; reproduce with:\n"
            f"{details['reproduction']}" if "reproduction" in details else
            "it was not running an example of the property"))
        report.user_properties.append((FAILURE, details))


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return []
    target, adapter = run.target, run.target.adapter
    source = target.convention_source
    if run.identification is not None:
        source += f": {run.identification.summary()}"
    lines = [
        f"radam-verify: implementation {adapter.spec} ({adapter.provenance}; {adapter.kind} "
        f"adapter), "
        f"kwargs {json.dumps(dict(adapter.kwargs))}, per group "
        f"{', '.join(adapter.hyperparameter_keys) or 'nothing'}",
        f"radam-verify: state layout: {adapter.state_layout.describe()}",
        f"radam-verify: platform: {target.platform()}",
        f"radam-verify: schedule: {target.schedule()}",
        f"radam-verify: convention {target.convention.spec} ({source})",
        f"radam-verify: device {adapter.device}, dtype {adapter.dtype}, profile "
        f"{target.profile.name} ({target.profile.examples} examples per property), "
        f"hypothesis seed {target.seed}",
    ]
    limit = target.step_limit
    if limit is not None:
        workers = getattr(config.option, "numprocesses", None) if _distributed(config) else 0
        where = (f"in {workers} worker process{'es' * (workers != 1)}, which a hang or a crash "
                 "cannot take down" if workers else "in this process (-n 0)")
        lines.append(f"radam-verify: each call into the implementation may take {limit.seconds:g} s "
                     f"({limit.source}); the properties run {where}")
    lines += [f"radam-verify: {name} not supported: {why}"
              for name, why in adapter.capabilities.notes.items()]
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "verify_path" not in metafunc.fixturenames:
        return
    run = metafunc.config.stash.get(RUN_KEY, None)
    paths: list[str | None] = list(run.target.adapter.capabilities.code_paths) if run else []
    metafunc.parametrize("verify_path", paths or [None], ids=[p or "default" for p in paths or [None]])


@pytest.fixture(scope="session")
def verify_target(request: pytest.FixtureRequest) -> Target:
    """The implementation under test (skips when no ``--verify-impl`` was given)."""
    run = request.config.stash.get(RUN_KEY, None)
    if run is None:
        pytest.skip("no --verify-impl given")
    return run.target


_CLEAR = pytest.StashKey["Callable[[], None]"]()


@pytest.fixture
def verify_record(request: pytest.FixtureRequest) -> Generator[Record, None, None]:
    """Statistics of one property, attached to its report for the JSON verdict."""
    from radam_verify import progress
    from radam_verify.suite.target import Record

    # a long property shows a progress line on a terminal (an xdist worker hands it to the
    # controller, which shows it);
    # pytest captures the terminal during a test, so the line is written with capture off
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def uncaptured(write: Callable[..., None], *args: str) -> None:
        if capture is None:
            write(*args)
            return
        with capture.global_and_fixture_disabled():
            write(*args)

    started = time.monotonic()
    shown: list[bool] = []
    run = request.config.stash.get(RUN_KEY, None)
    after_s = run.options.progress_after_s if run is not None else math.inf

    from radam_verify import watchdog

    record_file = watchdog.current_record()  # an xdist worker: the controller shows the line

    def show(line: str) -> None:  # only properties that run for a while show a line
        if time.monotonic() - started >= after_s:
            if record_file is not None:
                record_file.progress(line)
                return
            shown.append(True)
            uncaptured(progress.show, line)

    record = Record(show=show, label=request.node.name)
    request.node.stash[_CLEAR] = lambda: uncaptured(progress.clear) if shown else None
    yield record
    request.node.user_properties.append((RECORD, record.as_json()))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Erase a property's progress line before pytest reports its outcome (and, in an xdist
    worker, record which property runs)."""
    if item.config.stash.get(RUN_KEY, None) is not None:
        from radam_verify import watchdog

        record = watchdog.current_record()
        if record is not None:
            record.start(item.nodeid)
    try:
        return (yield)
    finally:
        clear = item.stash.get(_CLEAR, None)
        if clear is not None:
            clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed property carries its counterexample; an exception that is not a deviation
    (raised by the suite itself, not by the implementation) is marked as an internal error."""
    report = yield
    if item.config.stash.get(RUN_KEY, None) and isinstance(item, pytest.Function):
        report.user_properties.append((TITLE, describe(item)))
    if (call.when == "call" and call.excinfo is not None and item.config.stash.get(RUN_KEY, None)
            and not call.excinfo.errisinstance(pytest.skip.Exception)):
        import traceback

        from radam_verify.suite.target import deviation

        error = call.excinfo.value
        found = deviation(error)
        if found is not None:
            report.user_properties.append((FAILURE, found.details))
        else:
            report.user_properties.append((INTERNAL, {
                "exception": f"{type(error).__name__}: {error}".strip().splitlines()[0],
                "traceback": "".join(traceback.format_exception(error))}))
    return report


def describe(item: pytest.Function) -> dict[str, str]:
    """A property's title (its claim, from the test's name, with its parameter) and the one
    line saying what it checks (the first sentence of its docstring)."""
    return _description(item.name, item.function.__doc__)


def describe_property(name: str) -> dict[str, str]:
    """:func:`describe` from a property's name alone (on an xdist controller, which has no
    items): its function is looked up in the packaged suite."""
    import importlib

    function = name.split("[")[0]
    for path in sorted(SUITE_DIR.glob("test_*.py")):
        module = importlib.import_module(f"radam_verify.suite.{path.stem}")
        if hasattr(module, function):
            return _description(name, getattr(module, function).__doc__)
    return _description(name, None)


def _description(name: str, doc: str | None) -> dict[str, str]:
    from radam_verify.suite.report import title_of

    text = " ".join((doc or "").split())
    end = text.find(". ")
    return {"title": title_of(name), "checks": text if end < 0 else text[:end + 1]}


def _internal(report: pytest.TestReport) -> object | None:
    return next((value for key, value in report.user_properties if key == INTERNAL), None)


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config
                             ) -> tuple[str, str, str] | None:
    """A property that stopped on an error of the suite is an error, not a failure."""
    if report.when == "call" and report.failed and _internal(report) is not None:
        return "error", "E", "ERROR"
    return None


class _Collector:
    """Gathers each property's outcome and statistics (on the controller under xdist),
    writes the JSON verdict and ends the terminal summary with one line."""

    def __init__(self, run: Run, config: pytest.Config) -> None:
        self.run, self.config = run, config

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.run.warden is not None:  # the workers' progress line, erased before the report
            from radam_verify import progress

            self.run.warden.quiet(progress.clear)
        entry = self.run.results.setdefault(report.nodeid, {
            "id": report.nodeid, "property": report.nodeid.split("::")[-1],
            "outcome": "passed", "duration_s": 0.0})
        entry["duration_s"] += report.duration
        for key, value in report.user_properties:
            if key in (RECORD, TITLE) and isinstance(value, dict):
                entry.update(value)
            elif key == FAILURE:
                entry["failure"] = value
            elif key == INTERNAL:
                entry["internal_error"] = value
        if "internal_error" in entry:
            entry["outcome"] = "error"
        elif report.skipped:
            entry["outcome"] = "skipped"
            longrepr = report.longrepr
            entry["skip_reason"] = (str(longrepr[2]).removeprefix("Skipped: ")
                                    if isinstance(longrepr, tuple) else str(longrepr))
        elif report.failed:
            entry["outcome"] = "failed"

    def verdict(self) -> dict[str, Any]:
        """The verdict as it is written: strict JSON values (non-finite floats as strings)."""
        from radam_verify.suite.report import strict, verdict_json

        verdict: dict[str, Any] = strict(verdict_json(
            self.run.target, self.run.identification, list(self.run.results.values()),
            time.time() - self.run.started))
        return verdict

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.run.options.report and not hasattr(self.config, "workerinput"):
            from radam_verify.report.conformance import write_conformance_report
            from radam_verify.suite.report import dumps
            from radam_verify.suite.standalone import FOLDER, write_scripts

            path = Path(self.run.options.report)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_scripts(self.run.target.adapter, {"properties": list(self.run.results.values())},
                          path.parent / FOLDER)
            verdict = self.verdict()
            path.write_text(dumps(verdict))
            write_conformance_report(verdict, path)
        if any(r["outcome"] == "error" for r in self.run.results.values()):
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from radam_verify.suite.report import summary_line

        terminalreporter.write_line(summary_line(self.verdict()))
