"""Run the suite on every configuration of the matrix and keep each run's verdict.

Each configuration runs in its own process (``radam-verify identify --json`` then
``radam-verify check --report``), so one implementation's import or crash cannot affect
another, and writes ``OUT/<slug>/identify.json`` and ``OUT/<slug>/verdict.json`` (with its
Markdown and HTML renderings). Configurations that cannot run here (package not installed,
no CUDA device) are recorded with the reason. The table is rendered from the files on disk,
so a partial rerun (``--only``) updates its rows and keeps the others.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from radam_verify.matrix.configurations import CONFIGURATIONS, Configuration

#: the project's root, where ``noxfile.py`` declares the frameworks' environments
ROOT = Path(__file__).resolve().parents[2]


def environment_python(name: str) -> Path:
    """The interpreter of the nox environment ``framework(name=NAME)``: built once with
    ``nox --install-only`` (exactly the packages ``noxfile.py`` lists), reused afterwards."""
    if not (ROOT / "noxfile.py").exists():
        raise FileNotFoundError(f"the {name} environment is declared in noxfile.py, which is not "
                                f"beside this radam-verify ({ROOT}); run the matrix from a checkout")

    def found() -> Path | None:
        return next((p / "bin" / "python" for p in sorted((ROOT / ".nox").glob("framework*"))
                     if p.name.endswith(f"-{name}") and (p / "bin" / "python").exists()), None)

    python = found()
    if python is None:
        subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s",
                        f"framework(name='{name}')", "--install-only"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        python = found()
        if python is None:
            raise FileNotFoundError(f"nox built no environment for {name} under {ROOT / '.nox'}")
    return python


def interpreter(config: Configuration) -> str:
    """The Python that runs ``config``: its framework's environment, or this one."""
    return str(environment_python(config.environment)) if config.environment else sys.executable


def unavailable(config: Configuration) -> str | None:
    """Why ``config`` cannot run on this machine, or None."""
    top = config.module.split(".")[0]
    if config.environment:
        try:
            python = interpreter(config)
        except (FileNotFoundError, subprocess.CalledProcessError) as error:
            return f"not run: its environment {config.environment!r} could not be built ({error})"
        probe = subprocess.run([python, "-c", f"import importlib.util as u; "
                                f"raise SystemExit(u.find_spec({top!r}) is None)"], check=False)
        if probe.returncode != 0:
            return f"not run: {config.module} is not installed in its environment"
    elif importlib.util.find_spec(top) is None:
        return f"not run: {config.module} is not installed"
    if config.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return "not run: no CUDA device on this machine"
    return None


def _command(python: str, *args: str) -> list[str]:
    return [python, "-m", "radam_verify.cli", *args]


def run_one(config: Configuration, out: Path, profile: str, workers: int | None, seed: int) -> str:
    """Identify and verify one configuration; returns a one-line outcome."""
    folder = out / config.slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "skipped.txt").unlink(missing_ok=True)
    reason = unavailable(config)
    if reason and config.device.startswith("cuda") and (folder / "verdict.json").exists():
        # a GPU's verdict stays until a machine with one runs the row again
        return f"{reason}; kept the verdict of its last run on a GPU"
    if reason:
        (folder / "skipped.txt").write_text(reason + "\n")
        for stale in ("verdict.json", "identify.json"):
            (folder / stale).unlink(missing_ok=True)
        return reason
    common = ["--kwargs", json.dumps(dict(config.kwargs)), "--device", config.device,
              "--dtype", config.dtype]
    python = interpreter(config)
    env = {**os.environ, **config.variables}
    identified = subprocess.run(_command(python, "identify", config.spec, *common, "--json"),
                                capture_output=True, text=True, check=False, env=env)
    if identified.returncode != 0:
        return f"identify failed: {identified.stderr.strip().splitlines()[-1:]}"
    (folder / "identify.json").write_text(identified.stdout)
    check = _command(python, "check", config.spec, *common, "--convention", config.convention,
                     "--profile", profile, "--seed", str(seed), "--report", str(folder),
                     "--subnormals", config.subnormals)
    if workers:
        check += ["-n", str(workers)]
    # on a terminal the check's own progress line shows through; its table goes to check.log
    done = subprocess.run(check, stdout=subprocess.PIPE, text=True, check=False, env=env,
                          stderr=None if sys.stderr.isatty() else subprocess.STDOUT)
    (folder / "check.log").write_text(done.stdout)
    if not (folder / "verdict.json").exists():
        return f"no verdict (exit {done.returncode}); see {folder / 'check.log'}"
    verdict = json.loads((folder / "verdict.json").read_text())
    counts = verdict["counts"]
    return f"{verdict['verdict'].upper()} ({counts['failed']} failed, {counts['passed']} passed)"


def select(only: Sequence[str], shard: tuple[int, int] = (1, 1)) -> list[Configuration]:
    """The configurations whose slug contains any of ``only`` (all when empty), and of those
    the ``shard`` = (I, N)-th share: every N-th from the I-th (1-based), so N machines with
    I = 1..N run every configuration exactly once."""
    index, count = shard
    chosen = [c for c in CONFIGURATIONS if not only or any(o.lower() in c.slug for o in only)]
    return chosen[index - 1::count]


def run_matrix(out: Path, profile: str, workers: int | None, seed: int, only: Sequence[str],
               show: Callable[[str], None], say: Callable[[str], None],
               shard: tuple[int, int] = (1, 1)) -> None:
    """Run the selected configurations one after the other: ``show`` the one running (a
    progress line), ``say`` how each ended (one line each)."""
    chosen = select(only, shard)
    for number, config in enumerate(chosen, start=1):
        started = time.monotonic()
        name = (f"[{number}/{len(chosen)}] {config.spec} {config.label} ({config.dtype}, "
                f"{config.device})")
        show(f"{name}: running the {profile} profile")
        outcome = run_one(config, out, profile, workers, seed)
        say(f"{name}: {outcome}, {time.monotonic() - started:.0f} s")
