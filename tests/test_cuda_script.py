"""reports/cuda/run.sh, the one command that verifies the CUDA configurations on a GPU:
without one it says so in one line and runs nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "reports" / "cuda" / "run.sh"


def test_the_cuda_script_is_valid_bash() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_without_a_gpu_the_cuda_script_says_so_in_one_line_and_runs_nothing() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the script would run")
    before = sorted(p.name for p in SCRIPT.parent.iterdir())
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, check=False, timeout=120,
                          env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "no CUDA device" in done.stderr
    assert sorted(p.name for p in SCRIPT.parent.iterdir()) == before
