"""A verdict survives its implementation: a call that hangs, a process that dies, a step
that raises. Each is a failed property that says what happened, with the example it was
running, and the run goes on to the next property and ends with a verdict."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radam_verify import watchdog

pytest.importorskip("torch")


@pytest.fixture
def limited() -> object:
    """A short limit on calls in this process, removed afterwards."""
    before = watchdog.limit()
    watchdog.set_limit(watchdog.Limit(0.2, "given"))
    yield
    watchdog.set_limit(before)


def test_a_call_still_running_after_the_limit_is_interrupted(limited: object) -> None:
    started = time.monotonic()
    with (pytest.raises(watchdog.StepTimeout,
                        match=re.escape("call of step() did not return within 0.2 s")),
          watchdog.call("step()")):
        time.sleep(30)
    assert time.monotonic() - started < 5


def test_a_call_that_returns_in_time_is_not_interrupted_later(limited: object) -> None:
    with watchdog.call("step()"):
        time.sleep(0.01)
    time.sleep(0.4)  # past the limit, outside any call: the timer was disarmed


def test_the_derived_limit_is_a_multiple_of_the_slowest_call_with_a_floor() -> None:
    assert watchdog.Limit.derived(1e-4).seconds == watchdog.FLOOR_S
    assert watchdog.Limit.derived(1.0).seconds == watchdog.FACTOR * 1.0
    assert "slowest" in watchdog.Limit.derived(1.0).source


def test_a_dead_workers_record_says_which_call_it_died_in(tmp_path: Path) -> None:
    record = watchdog.Record(tmp_path, "gw7")
    record.example({"what": "trajectory", "case": {"scenario": {}}, "reproduction": "replay({})"})
    record.calling("step()", 12)
    (tmp_path / "gw7.fault").write_text("Fatal Python error: Segmentation fault\n\nThread 0x1")
    record.close()
    found = watchdog.death(tmp_path, "gw7")
    assert found is not None
    assert found.quantity == "crash"
    assert found.message == ("the process running the implementation died during the 12th call "
                             "of step(): Segmentation fault")
    assert found.case is not None
    assert found.case["what"] == "trajectory"
    assert watchdog.death(tmp_path, "gw7") is None  # read once: a new worker starts afresh


def test_the_warden_ends_a_process_whose_call_runs_past_twice_the_limit(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        call = tmp_path / "gw0.call"
        call.write_text(f"{child.pid} 1 {time.time():.3f} 3 step()")
        warden = watchdog.Warden(tmp_path, limit_s=0.25)
        try:
            assert child.wait(timeout=10) != 0
        finally:
            warden.stop()
        found = watchdog.death(tmp_path, "gw0")
        assert found is not None
        assert found.quantity == "timeout"
        assert found.message == ("the 3rd call of step() did not return within 0.5 s; its "
                                 "process was ended")
    finally:
        child.kill()


#: two properties: the run must go on after the first one's misbehaviour
TWO = "trajectories or weight_decay"


def _verdict(pytester: pytest.Pytester, impl: str, select: str, *args: str) -> dict[str, object]:
    report = pytester.path / "verdict.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--verify-impl=radam_verify.impls.misbehaving:{impl}",
        "--verify-convention=pytorch", "--verify-profile=quick", f"--verify-report={report}",
        "--verify-step-timeout=1", "-k", select, *args, timeout=600)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    verdict: dict[str, object] = json.loads(report.read_text())
    assert verdict["verdict"] == "deviates"
    timing = verdict["timing"]
    assert isinstance(timing, dict)
    assert timing["step_limit_s"] == 1.0
    return verdict


def _failures(verdict: dict[str, object], properties: int) -> list[dict[str, object]]:
    found = verdict["properties"]
    assert isinstance(found, list)
    assert len(found) == properties
    failures = [p["failure"] for p in found if p["outcome"] == "failed"]
    assert len(failures) == properties, "every property reaches the 50th step and fails"
    return failures


# (implementation, properties selected, where it runs, what each failure says)
CASES = [
    ("Crashes", TWO, (), "crash", "the process running the implementation died during the "),
    ("Aborts", "trajectories", (), "crash", "call of step(): Aborted"),
    ("IsKilled", "trajectories", (), "crash",
     "call of step(): no fatal signal was reported (the process was killed, e.g. by the "
     "system when it ran out of memory"),
    ("HangsInNativeCode", "trajectories", (), "timeout",
     "did not return within 2 s; its process was ended"),
    ("HangsInPython", TWO, ("-n", "0"), "timeout",
     "did not return within 1 s (the limit: given with --verify-step-timeout); the example had "
     "made"),
    ("Raises", "trajectories", ("-n", "0"), "exception",
     "the implementation raised RuntimeError: step() refuses"),
]


@pytest.mark.parametrize(("impl", "select", "where", "quantity", "said"), CASES,
                         ids=[case[0] for case in CASES])
def test_a_misbehaving_step_fails_its_property_and_the_run_ends_with_a_verdict(
        pytester: pytest.Pytester, impl: str, select: str, where: tuple[str, ...], quantity: str,
        said: str) -> None:
    """In the default worker process a crash or a hang in native code fails one property
    (the next runs in a new worker); in pytest's own process (-n 0) a hang in Python code is
    interrupted, and an exception is a failure as always."""
    for failure in _failures(_verdict(pytester, impl, select, *where), len(select.split(" or "))):
        assert failure["quantity"] == quantity
        assert said in str(failure["message"])
        case = failure["case"]  # the example it was running, which replay() takes
        assert isinstance(case, dict)
        assert case["impl"].endswith(impl)
        assert case["scenario"]["steps"]
        assert "script" not in failure or quantity == "exception"
