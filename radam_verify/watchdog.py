"""Time limits on the implementation's calls, and what its process was doing when it died.

A verdict must survive its implementation. An exception it raises is already a failed
property (:class:`~radam_verify.errors.ImplementationError`); this module handles a call
that does not return and a process that dies:

- Every call into the implementation (the adapters mark them with
  :func:`~radam_verify.adapters.base.implementation_call`) runs under a time limit. After
  the limit, ``SIGALRM`` interrupts a call still running Python code with
  :class:`StepTimeout`, which the property reports as a failure with the call and the
  example it was running; the run goes on with the next property.
- A call stuck in native code cannot be interrupted inside its own process, and a process
  that dies takes its property with it. The suite therefore runs the properties in a
  pytest-xdist worker (one by default, see the plugin). Each worker keeps a :class:`Record`
  on disk: which call runs since when, and the example as a replayable case. The controller's
  :class:`Warden` ends a worker whose call has run for twice the limit, and when a worker
  dies its property's report is rebuilt from the record and from faulthandler's dump of the
  fatal signal (:func:`death`), with the example as the counterexample so far.

The default limit is derived from the implementation's own first calls (those
:func:`~radam_verify.suite.options.build_target` makes while probing it): ``FACTOR`` times
the slowest, and never less than ``FLOOR_S``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

#: the default limit is FACTOR times the slowest call seen while probing, at least FLOOR_S
FACTOR = 50.0
FLOOR_S = 10.0
#: the warden ends a worker whose call has run for this many times the limit
HARD_FACTOR = 2.0
#: how often the warden looks at the workers' records (seconds)
POLL_S = 0.2
_CALL_BYTES = 160
_PROGRESS_BYTES = 240


class StepTimeout(BaseException):
    """A call into the implementation did not return within the limit.

    A ``BaseException``, not an ``Exception``: the adapters do not wrap it as the
    implementation's exception, and Hypothesis stops at once instead of shrinking by running
    the hanging implementation again and again.
    """

    def __init__(self, call: str, count: int, limit_s: float) -> None:
        super().__init__(f"{_nth(count)} call of {call} did not return within {limit_s:g} s")
        self.call, self.count, self.limit_s = call, count, limit_s


@dataclass(frozen=True)
class Limit:
    """The time limit on one call into the implementation, and where it comes from."""

    seconds: float
    source: str  # "given" (--verify-step-timeout) or how it was derived

    @classmethod
    def derived(cls, slowest_s: float) -> Limit:
        seconds = max(FLOOR_S, FACTOR * slowest_s)
        return cls(round(seconds, 3), f"{FACTOR:g} x the slowest of its first calls "
                                      f"({slowest_s * 1e3:.3g} ms), at least {FLOOR_S:g} s")


class _Watch:
    """The process's watch over the implementation's calls (one per process)."""

    def __init__(self) -> None:
        self.limit: Limit | None = None
        self.slowest_s = 0.0
        self.counts: dict[str, int] = {}
        self.depth = 0
        self.call = ""
        self.record: Record | None = None

    def alarm(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        if self.depth and self.limit is not None:
            raise StepTimeout(self.call, self.counts.get(self.call, 0), self.limit.seconds)


_WATCH = _Watch()


def set_limit(limit: Limit | None) -> None:
    """Limit every later call into the implementation (None: no limit)."""
    _WATCH.limit = limit
    if limit is not None and _in_main_thread():
        current = signal.getsignal(signal.SIGALRM)
        if current in (signal.SIG_DFL, None) or current == _WATCH.alarm:
            signal.signal(signal.SIGALRM, _WATCH.alarm)


def limit() -> Limit | None:
    return _WATCH.limit


def slowest_call_s() -> float:
    """The slowest call into the implementation so far in this process, in seconds."""
    return _WATCH.slowest_s


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def call(name: str) -> Iterator[None]:
    """One call into the implementation: counted, timed, recorded, and limited."""
    watch = _WATCH
    outer = watch.depth == 0
    if outer:
        watch.call = name
        watch.counts[name] = watch.counts.get(name, 0) + 1
    armed = (outer and watch.limit is not None and _in_main_thread()
             and signal.getsignal(signal.SIGALRM) == watch.alarm)
    if outer and watch.record is not None:
        watch.record.calling(name, watch.counts[name])
    watch.depth += 1
    started = time.perf_counter()
    if armed:
        assert watch.limit is not None
        signal.setitimer(signal.ITIMER_REAL, watch.limit.seconds)
    try:
        yield
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
        watch.depth -= 1
        if outer:
            watch.slowest_s = max(watch.slowest_s, time.perf_counter() - started)
            if watch.record is not None:
                watch.record.returned()


@contextlib.contextmanager
def example(case: Callable[[], dict[str, object]]) -> Iterator[Callable[[], str]]:
    """One example of a property: the calls are counted from here, and a worker records
    ``case()`` (what replays the example) before the implementation runs. Yields a function
    saying how far the example got ("12 calls of step()")."""
    _WATCH.counts = {}
    if _WATCH.record is not None:
        _WATCH.record.example(case())
    yield lambda: progress_text(_WATCH.counts)
    _WATCH.counts = {}


def progress_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} call{'s' * (n != 1)} of {name}" for name, n in counts.items()) or \
        "no call of the implementation"


def _nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Record:
    """What one worker is running, kept on disk where the controller can read it after the
    worker died: ``NAME.call`` (pid, whether a call runs, since when, which call and how
    many of it), ``NAME.case.json`` (the property and its example as a replayable case) and
    ``NAME.fault`` (faulthandler's dump when a fatal signal ended the process)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name
        self._call = os.open(folder / f"{name}.call", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self._progress = os.open(folder / f"{name}.progress", os.O_RDWR | os.O_CREAT | os.O_TRUNC,
                                 0o644)
        self._fault: IO[str] | None = None
        self.property = ""
        self.returned()

    def start(self, prop: str) -> None:
        """A property starts; from now on a fatal signal is dumped into the record."""
        self.property = prop
        self.progress("")
        (self.folder / f"{self.name}.case.json").write_text(json.dumps({"property": prop}))
        if self._fault is None:
            self._fault = open(self.folder / f"{self.name}.fault", "w")  # noqa: SIM115
        faulthandler.enable(file=self._fault, all_threads=True)

    def example(self, case: dict[str, object]) -> None:
        path = self.folder / f"{self.name}.case.json"
        path.write_text(json.dumps({"property": self.property, **case}))

    def calling(self, name: str, count: int) -> None:
        self._write(f"{os.getpid()} 1 {time.time():.3f} {count} {name}")

    def returned(self) -> None:
        self._write(f"{os.getpid()} 0 {time.time():.3f} 0 -")

    def progress(self, line: str) -> None:
        """The property's progress line, which the controller shows on its terminal."""
        data = line.encode()[:_PROGRESS_BYTES]
        os.pwrite(self._progress, data.ljust(_PROGRESS_BYTES), 0)

    def close(self) -> None:
        os.close(self._call)
        os.close(self._progress)
        if self._fault is not None:
            self._fault.close()

    def _write(self, line: str) -> None:
        os.pwrite(self._call, line.encode()[:_CALL_BYTES].ljust(_CALL_BYTES), 0)


def current_record() -> Record | None:
    return _WATCH.record


def record_in(folder: Path, name: str) -> Record:
    """Keep this process's record in ``folder`` under ``name`` (an xdist worker's id)."""
    _WATCH.record = Record(folder, name)
    return _WATCH.record


@dataclass(frozen=True)
class Call:
    """A worker's call in progress as its record shows it."""

    pid: int
    running: bool
    since: float
    count: int
    name: str

    @classmethod
    def read(cls, path: Path) -> Call | None:
        try:
            pid, running, since, count, name = path.read_bytes().decode().split(maxsplit=4)
            return cls(int(pid), running == "1", float(since), int(count), name.strip())
        except (OSError, ValueError):
            return None


class Warden:
    """A thread of the controller that ends a worker whose call into the implementation has
    run for ``HARD_FACTOR`` times the limit (a hang the worker cannot interrupt itself, e.g.
    in native code); xdist then reports its property as crashed, and :func:`death` says why.
    It also shows the workers' progress lines with ``show`` (a terminal's status line)."""

    def __init__(self, folder: Path, limit_s: float,
                 show: Callable[[str], None] | None = None) -> None:
        self.folder, self.hard_s, self.show = folder, HARD_FACTOR * limit_s, show
        self.lock = threading.Lock()  # held while a line is shown or cleared
        self._shown = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="radam-verify-warden",
                                        daemon=True)
        self._thread.start()

    def quiet(self, clear: Callable[[], None]) -> None:
        """Before a report is printed: erase the line shown (``clear``) until a new one comes."""
        with self.lock:
            if self._shown:
                clear()
            self._shown = ""
            for path in self.folder.glob("*.progress"):
                with contextlib.suppress(OSError):
                    path.write_bytes(b"")

    def _progress(self) -> None:
        lines = []
        for path in sorted(self.folder.glob("*.progress")):
            with contextlib.suppress(OSError):
                line = path.read_bytes().decode(errors="replace").strip()
                if line:
                    lines.append(line)
        line = " | ".join(lines)
        with self.lock:
            if line and line != self._shown and self.show is not None:
                self.show(line)
                self._shown = line

    def _watch(self) -> None:
        while not self._stop.wait(POLL_S):
            self._progress()
            for path in self.folder.glob("*.call"):
                found = Call.read(path)
                if found is None or not found.running or time.time() - found.since < self.hard_s:
                    continue
                ended = path.with_suffix(".ended")
                ended.write_text(json.dumps({"hard_s": self.hard_s, "call": found.name,
                                             "count": found.count}))
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(found.pid, signal.SIGKILL)
                path.unlink(missing_ok=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * POLL_S)


@dataclass(frozen=True)
class Death:
    """Why a worker died in a property, and the example it was running."""

    message: str  # one line
    quantity: str  # "timeout" or "crash"
    case: dict[str, object] | None


def death(folder: Path, name: str) -> Death | None:
    """What worker ``name``'s record says about its end (None: it kept no record). The
    record is removed, so that a worker started in its place begins a new one."""
    call = Call.read(folder / f"{name}.call")
    ended_path = folder / f"{name}.ended"
    case_path, fault_path = folder / f"{name}.case.json", folder / f"{name}.fault"
    if call is None and not ended_path.exists():
        return None
    case: dict[str, object] | None = None
    with contextlib.suppress(OSError, ValueError):
        case = json.loads(case_path.read_text())
    fault = fault_path.read_text(errors="replace") if fault_path.exists() else ""
    if ended_path.exists():
        ended = json.loads(ended_path.read_text())
        message = (f"the {_nth(int(ended['count']))} call of {ended['call']} did not return "
                   f"within {ended['hard_s']:g} s; its process was ended")
        quantity = "timeout"
    else:
        during = (f"during the {_nth(call.count)} call of {call.name}"
                  if call is not None and call.running else "outside the implementation's calls")
        message = f"the process running the implementation died {during}: {_signal_of(fault)}"
        quantity = "crash"
    for path in (folder / f"{name}.call", ended_path, case_path, fault_path,
                 folder / f"{name}.progress"):
        path.unlink(missing_ok=True)
    replayable = case if case is not None and "case" in case else None
    return Death(message, quantity, replayable)


def _signal_of(fault: str) -> str:
    """The fatal error faulthandler wrote ("Segmentation fault"), or why there is none."""
    for line in fault.splitlines():
        if line.startswith("Fatal Python error:"):
            return line.removeprefix("Fatal Python error:").strip()
    return ("no fatal signal was reported (the process was killed, e.g. by the system when "
            "it ran out of memory, or it exited)")
