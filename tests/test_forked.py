"""The forked runs the other tests use see what a fresh interpreter sees (tests/forked.py):
each program below prints what it can observe of its start, and a forked run must print,
and exit with, what ``subprocess.run`` of the same command line gives."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import forked
import pytest

#: what a program can see of how it was started
OBSERVE = """
import os, sys
print(sys.argv[1:], repr(sys.path[0]) if sys.argv[0] == '-c' else os.path.basename(sys.path[0]))
print(os.getcwd() == os.environ.get('EXPECTED_CWD'), os.environ.get('MARK'))
print(__name__, 'radam_verify' in sys.modules, sys.stdin.read() == '')
print('to stderr', file=sys.stderr)
"""


def _both(argv: list[str], **kwargs: object) -> tuple[subprocess.CompletedProcess[str], ...]:
    fresh = subprocess.run(argv, capture_output=True, text=True, check=False,
                           stdin=subprocess.DEVNULL, timeout=120, **kwargs)  # type: ignore[call-overload]
    return fresh, forked.run(argv, timeout=120, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("form", ["script", "-c", "-m"])
@pytest.mark.parametrize("ending", ["", "sys.exit(3)", "sys.exit('no')", "raise KeyError('k')"])
def test_a_forked_run_prints_and_exits_as_a_fresh_interpreter(tmp_path: Path, form: str,
                                                             ending: str) -> None:
    program = OBSERVE + ending + "\n"
    (tmp_path / "observed.py").write_text(program)
    work = tmp_path / "work"
    work.mkdir()
    first = {"script": [str(tmp_path / "observed.py")], "-c": ["-c", program],
             "-m": ["-m", "observed"]}[form]
    env = {**os.environ, "MARK": "set", "EXPECTED_CWD": str(work),
           "PYTHONPATH": str(tmp_path)}
    fresh, fork = _both([sys.executable, *first, "a", "b c"], cwd=work, env=env)
    assert fresh.stdout.count("\n") == 3, fresh.stdout + fresh.stderr
    assert "True set" in fresh.stdout
    assert (fork.returncode, fork.stdout) == (fresh.returncode, fresh.stdout)
    assert fork.stderr.splitlines()[-1] == fresh.stderr.splitlines()[-1]  # the traceback's end


def test_stderr_can_go_to_stdout_and_output_to_a_given_file(tmp_path: Path) -> None:
    code = "import sys; print('out'); sys.stdout.flush(); print('err', file=sys.stderr)"
    merged = forked.run([sys.executable, "-c", code], stderr=subprocess.STDOUT)
    assert merged.stdout == "out\nerr\n"
    with (tmp_path / "log").open("w") as log:
        forked.run([sys.executable, "-c", code], stdout=log, stderr=log)
    assert (tmp_path / "log").read_text() == "out\nerr\n"


def test_a_run_past_its_timeout_is_killed_and_raises() -> None:
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        forked.run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=1)
    assert time.monotonic() - started < 30
    assert forked.run([sys.executable, "-c", "print(1)"]).stdout == "1\n"  # the server goes on


def test_the_script_server_has_torch_loaded_and_not_radam_verify() -> None:
    """A repro script must run without radam_verify: the server that runs them never has it."""
    code = "import sys; print('torch' in sys.modules, 'radam_verify' in sys.modules)"
    assert forked.run([sys.executable, "-c", code]).stdout == "True False\n"


def test_a_pytester_run_is_the_subprocess_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it="""
        import os
        def test_passes(): assert os.environ['HOME']
        def test_fails(): assert 1 == 2
    """)
    fresh = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--assert=plain")
    fork = forked.runpytest(pytester, "-p", "no:cacheprovider", "--assert=plain")
    assert fork.ret == fresh.ret == pytest.ExitCode.TESTS_FAILED
    assert fork.parseoutcomes() == fresh.parseoutcomes() == {"passed": 1, "failed": 1}
    timed = ("===", "runpytest-")  # the summary's time, the numbered temporary folder
    assert ([line for line in fork.outlines if not line.startswith(timed)]
            == [line for line in fresh.outlines if not line.startswith(timed)])
