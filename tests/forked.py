"""Run ``python SCRIPT``, ``python -c CODE`` or ``python -m MODULE`` as a fresh interpreter
would, forked from a process that has already imported the heavy modules.

radam-verify's own tests start Python several hundred times: every repro script of the
matrix and of the catalogue, and every verdict a plugin test asks of ``pytest``. Most of
each start went into importing torch (and ``torch._dynamo``, which the optimizers'
constructors import): about 2.5 s of CPU each time, more than the script itself. Here a
server process per preload set (one per test worker) imports those modules once, and each
run is a ``fork`` of it that then does what the interpreter does for its command line:
``sys.argv``, ``sys.path`` (the script's folder, ``''`` or the working directory first, then
``PYTHONPATH``), a new ``__main__``, the working directory, the environment, standard
streams on the given files, and the exit status (``SystemExit``'s code, 1 and the traceback
for an uncaught exception) after the atexit functions ran and the streams were flushed.

What differs from a fresh process is only that the preloaded modules are already in
``sys.modules``, imported with the server's environment. So a server never preloads the
module a run must be able to live without (radam_verify for the repro scripts: their
stand-alone claim is tested by blocking it), and a run whose claim depends on the
interpreter's start (``PYTHONHASHSEED``, crashes and hangs of the process itself) uses a
real subprocess. A forked run sees the same torch (its threads start in the child, on first
use) and gives the same numbers.

The server speaks over a ``SOCK_SEQPACKET`` socket pair: a request is one JSON message with
the three standard streams' descriptors attached (``socket.send_fds``); the answers are the
child's pid (so a timeout can kill it) and then its wait status.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # the server imports this file: only what it preloads, and the standard library
    import pytest

#: what a repro script imports before its first line of its own: torch, and torch._dynamo,
#: which every torch optimizer's constructor imports (never radam_verify: see above)
SCRIPTS = ("numpy", "torch", "torch._dynamo")
#: what ``pytest --verify-impl=...`` imports before its first property
#: (not the suite's test modules, which its run collects and imports itself)
PYTEST = (*SCRIPTS, "pytest", "xdist", "hypothesis", "mpmath", "sympy", "ml_dtypes", "numba",
          "radam_verify.plugin", "radam_verify.suite.checks", "radam_verify.suite.designed",
          "radam_verify.suite.draws", "radam_verify.suite.report", "radam_verify.suite.scenario",
          "radam_verify.adapters.torch_adapter", "radam_verify.identify",
          "radam_verify.fused_kernel", "radam_verify.impls.torch_radam")
_MESSAGE = 1 << 20


class _Server:
    """A process that has imported ``preload`` and forks a child per request."""

    def __init__(self, preload: tuple[str, ...]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # the environment of a fresh interpreter: PYTHONPATH comes with each request
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        # its own output (none, unless it fails to start) goes to a file of its own: the test
        # worker's descriptors are pytest's capture and, under xdist, its channel
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(theirs.fileno()), *preload],
            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        theirs.close()
        self.socket = ours
        if self.socket.recv(_MESSAGE) != b"ready":
            log = _read(self.log)
            self.close()
            raise RuntimeError(f"the fork server for {preload} did not start:\n{log}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, argv: Sequence[str], cwd: str, env: Mapping[str, str],
            streams: tuple[int, int, int], timeout: float | None) -> int:
        """Run ``argv`` with ``streams`` as fds 0, 1, 2; its exit code (-N for signal N)."""
        request = json.dumps({"argv": list(argv), "cwd": cwd, "env": dict(env)}).encode()
        socket.send_fds(self.socket, [request], list(streams))
        pid = int(self._answer())
        self.socket.settimeout(timeout)
        try:
            status = self._answer()
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            self.socket.settimeout(None)
            self._answer()
            raise subprocess.TimeoutExpired(list(argv), timeout or 0) from None
        finally:
            self.socket.settimeout(None)
        return os.waitstatus_to_exitcode(int(status))

    def _answer(self) -> bytes:
        answer = self.socket.recv(_MESSAGE)
        if not answer:
            raise RuntimeError(f"the fork server ended:\n{_read(self.log)}")
        return answer

    def close(self) -> None:
        self.socket.close()
        self.log.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()


_SERVERS: dict[tuple[str, ...], _Server] = {}


def _server(preload: tuple[str, ...]) -> _Server:
    server = _SERVERS.get(preload)
    if server is None or not server.alive():
        server = _SERVERS[preload] = _Server(preload)
    return server


@atexit.register
def _close_servers() -> None:
    for server in _SERVERS.values():
        server.close()


def run(argv: Sequence[str], *, preload: tuple[str, ...] = SCRIPTS, cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None, timeout: float | None = None,
        stdin: int | IO[Any] | None = None, stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None) -> subprocess.CompletedProcess[str]:
    """As ``subprocess.run(argv, capture_output=True, text=True, check=False, ...)``, forked.

    ``argv`` is ``[sys.executable, SCRIPT | -c CODE | -m MODULE, *args]``. ``stdout`` and
    ``stderr`` (a file or descriptor, or ``subprocess.STDOUT`` for stderr) replace the
    capture; what is captured comes back as text. ``stdin`` is /dev/null unless given."""
    if len(argv) < 2 or argv[0] != sys.executable:
        raise ValueError(f"forked.run runs this interpreter, {sys.executable}; got {argv!r}")
    with contextlib.ExitStack() as files:
        def capture() -> IO[bytes]:
            return files.enter_context(tempfile.TemporaryFile())

        null = files.enter_context(open(os.devnull, "rb"))
        fd_in = null.fileno() if stdin is None else _fd(stdin)
        out = capture() if stdout is None else None
        fd_out = out.fileno() if out is not None else _fd(stdout)
        err = capture() if stderr is None else None
        fd_err = (err.fileno() if err is not None
                  else fd_out if stderr == subprocess.STDOUT else _fd(stderr))
        code = _server(preload).run(argv, os.fspath(cwd or os.getcwd()),
                                    os.environ if env is None else env,
                                    (fd_in, fd_out, fd_err), timeout)
        return subprocess.CompletedProcess(list(argv), code, _read(out), _read(err))


def runpytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """As ``pytester.runpytest_subprocess(*args)``, with pytest forked from :data:`PYTEST`.

    Only for plain runs (``--assert=plain``, as ``radam-verify check`` runs the suite): pytest
    cannot rewrite the asserts of plugins imported before it starts, and says so in a warning
    that a fresh process would not print."""
    import pytest

    if "--assert=plain" not in args:
        raise ValueError("forked.runpytest runs pytest with --assert=plain only")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pytester, "popen", _Popen.for_pytester)
        return pytester.runpytest_subprocess(*args)


class _Popen:
    """What ``Pytester.run`` needs of ``subprocess.Popen``: the run is done when it returns."""

    stdin = None

    def __init__(self, returncode: int) -> None:
        self.returncode = returncode

    @classmethod
    def for_pytester(cls, cmdargs: Sequence[str], stdout: IO[Any], stderr: IO[Any],
                     stdin: object = None) -> _Popen:
        # Pytester.popen's environment: the working directory first on PYTHONPATH
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
        assert tuple(cmdargs[:2]) == (sys.executable, "-mpytest"), cmdargs
        argv = [sys.executable, "-m", "pytest", *cmdargs[2:]]
        done = run(argv, preload=PYTEST, env=env, stdout=stdout, stderr=stderr)
        return cls(done.returncode)

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode

    def kill(self) -> None:  # the run has ended
        pass


def _fd(stream: int | IO[Any] | None) -> int:
    if isinstance(stream, int):
        return stream
    assert stream is not None
    stream.flush()
    return stream.fileno()


def _read(file: IO[bytes] | None) -> str:
    if file is None:
        return ""
    file.seek(0)
    return file.read().decode(errors="replace")


# ---- the server (run as ``python forked.py FD MODULE...``) ----

def _serve(fd: int, preload: Sequence[str]) -> None:
    import importlib

    del sys.path[0]  # this file's folder, which a fresh interpreter would not have
    for name in preload:
        importlib.import_module(name)
    base_path = list(sys.path)
    channel = socket.socket(fileno=fd)
    channel.send(b"ready")
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, _MESSAGE, 3)
        except ConnectionResetError:
            return
        if not message:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            channel.close()
            _child(json.loads(message), fds, base_path)
        for descriptor in fds:
            os.close(descriptor)
        channel.send(str(pid).encode())
        _, status = os.waitpid(pid, 0)
        channel.send(str(status).encode())


def _child(request: dict[str, Any], fds: list[int], base_path: list[str]) -> None:
    """Be the interpreter ``request['argv']`` starts; never returns."""
    import runpy
    import types

    code = 1
    try:
        for target, descriptor in enumerate(fds):
            os.dup2(descriptor, target)
        for descriptor in set(fds) - {0, 1, 2}:
            os.close(descriptor)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        _, first, *args = request["argv"]
        try:
            if first == "-c":
                source, *args = args
                sys.argv = ["-c", *args]
                sys.path[:] = ["", *extra, *base_path]
                main = types.ModuleType("__main__")
                sys.modules["__main__"] = main
                exec(compile(source, "<string>", "exec"), main.__dict__)
            elif first == "-m":
                module, *args = args
                sys.argv = [module, *args]
                sys.path[:] = [os.getcwd(), *extra, *base_path]
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            else:
                sys.argv = [first, *args]
                sys.path[:] = [os.path.dirname(os.path.realpath(first)), *extra, *base_path]
                runpy.run_path(first, run_name="__main__")
            code = 0
        except SystemExit as end:
            if end.code is None or isinstance(end.code, int):
                code = end.code or 0
            else:
                print(end.code, file=sys.stderr)
                code = 1
        except BaseException:  # the interpreter's own report of an uncaught exception
            sys.excepthook(*sys.exc_info())
            code = 1
        atexit._run_exitfuncs()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2:])
