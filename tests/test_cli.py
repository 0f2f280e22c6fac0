"""The command line: JSON shapes, one-line errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import forked
import pytest

from radam_verify import cli, derivation
from radam_verify.derivation import Claim
from radam_verify.derivation.claims import Step
from radam_verify.suite.standalone import SCRIPTED_CHECKS

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "radam_verify.cli", *args],
                          capture_output=True, text=True, check=False)


def test_help_names_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("derive", "schedule", "check", "identify", "report", "repro", "matrix"):
        assert command in result.stdout


def test_derive_json_lists_every_claim_as_verified(
    claims: dict[str, Claim], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(derivation, "all_claims", lambda: list(claims.values()))
    assert cli.main(["derive", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in data["claims"]] == list(claims)
    assert all(c["verified"] is True for c in data["claims"])


def test_derive_exits_non_zero_when_a_claim_fails(
    claims: dict[str, Claim], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = next(iter(claims.values()))
    broken = replace(first, steps=(*first.steps, Step("broken", "x", "test", False)))
    monkeypatch.setattr(derivation, "all_claims", lambda: [broken])
    assert cli.main(["derive", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["claims"][0]["verified"] is False


def test_schedule_prints_the_documented_json() -> None:
    result = run("schedule", "--beta2", "0.999", "--steps", "7", "--digits", "12")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["convention"] == "pytorch"
    assert [s["t"] for s in data["steps"]] == list(range(1, 8))
    first, last = data["steps"][0], data["steps"][-1]
    assert set(first) == {"t", "rho_t", "rectified", "r_t", "bias_correction1",
                          "bias_correction2"}
    assert first["rectified"] is False
    assert first["r_t"] is None
    assert last["rectified"] is True
    assert len(last["r_t"].replace(".", "").lstrip("0")) == 12


def test_schedule_starts_anywhere() -> None:
    result = run("schedule", "--beta2", "0.9999", "--steps", "2", "--start", "1000000000",
                 "--convention", "official")
    assert result.returncode == 0, result.stderr
    assert [s["t"] for s in json.loads(result.stdout)["steps"]] == [10**9, 10**9 + 1]


@pytest.mark.parametrize(
    "args",
    [
        ["schedule", "--beta2", "1.5", "--steps", "3"],
        ["schedule", "--beta2", "0.9", "--steps", "0"],
        ["schedule", "--beta2", "0.9", "--steps", "3", "--convention", "nadam"],
        ["schedule", "--beta2", "0.9", "--steps", "3", "--convention", "paper,eps=inside"],
        ["schedule", "--steps", "3"],
        ["nonsense"],
        ["repro", "/no/such/verdict.json"],
        ["repro", str(ROOT / "pyproject.toml")],
        ["repro", str(ROOT / "reports" / "matrix" / "matrix.json")],
    ],
)
def test_bad_input_is_a_one_line_usage_error(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_exits_0_for_a_conforming_implementation_and_prints_a_table(tmp_path: object) -> None:
    result = run("check", "radam_verify.impls:ReferenceRAdam", "--convention", "pytorch",
                 "--profile", "quick", "--report", str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "verdict: CONFORMS" in result.stdout
    assert "Trajectories stay within the global bound" in result.stdout
    assert (Path(str(tmp_path)) / "verdict-summary.md").exists()
    assert not (Path(str(tmp_path)) / "repro").exists()  # nothing failed, no script


def test_check_exits_1_for_a_defect() -> None:
    result = run("check", "radam_verify.impls.defects:OffByOneStep", "--convention", "pytorch",
                 "--profile", "quick", "--shrink", "no")
    assert result.returncode == 1
    assert "verdict: DEVIATES" in result.stdout


def test_check_exits_4_on_a_bad_spec_with_one_line() -> None:
    result = run("check", "torch.optim:NoSuch")
    assert result.returncode == 4
    assert "Traceback" not in result.stderr + result.stdout


def test_identify_json_has_convention_axes_and_evidence() -> None:
    result = run("identify", "torch.optim:RAdam", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["convention"] == "pytorch"
    assert set(document["axes"]) >= {"threshold", "comparison", "below", "eps", "weight_decay"}
    assert document["axes"]["below"] == "sgd"
    assert document["evidence"]


def test_identify_rejects_kwargs_that_are_not_json() -> None:
    result = run("identify", "torch.optim:RAdam", "--kwargs", "{x}")
    assert result.returncode == 4
    assert result.stderr.count("\n") == 1


def _run_on_a_terminal(argv: list[str]) -> str:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal; return what it printed."""
    import os
    import pty

    master, slave = pty.openpty()
    done = subprocess.run(argv, stdout=slave, stderr=slave, check=False, timeout=600)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert done.returncode in (0, 1)
    return b"".join(chunks).decode(errors="replace")


def test_a_long_property_shows_progress_on_a_terminal_and_nothing_otherwise(tmp_path: Path) -> None:
    """Progress lines appear on a terminal once a property has run --verify-progress-after
    seconds (0 here, so the claim does not hang on this machine's speed), never when the
    output is redirected, and not before that time."""
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", "/dev/null",
            f"--rootdir={tmp_path}", "--verify-impl=radam_verify.impls:ReferenceRAdam",
            "--verify-convention=pytorch", "--verify-profile=quick", "-k", "trajectories",
            "--verify-progress-after=0"]
    on_terminal = _run_on_a_terminal(argv)
    assert "test_trajectories_stay_within_the_global_bound: " in on_terminal
    assert " examples, worst error/bound " in on_terminal
    assert "\r\x1b[K" in on_terminal  # the line is rewritten in place, then erased
    redirected = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert "examples, worst error/bound" not in redirected.stdout + redirected.stderr
    later = [a if a != "--verify-progress-after=0" else "--verify-progress-after=3600" for a in argv]
    assert "examples, worst error/bound" not in _run_on_a_terminal(later)


def test_progress_after_takes_a_non_negative_number_of_seconds(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", "/dev/null",
            f"--rootdir={tmp_path}", "--verify-impl=radam_verify.impls:ReferenceRAdam",
            "--verify-progress-after=-1"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert result.returncode == 4
    assert "--verify-progress-after='-1' is not a non-negative number of seconds" in result.stderr


def test_repro_writes_the_scripts_of_a_saved_verdict_that_show_its_failure(tmp_path: Path) -> None:
    """A verdict saved without scripts (here the demo's torch verdict, as input) gets one
    per failed property; each exits 1 on the implementation, as the verdict says."""
    source = ROOT / "reports" / "conformance-torch" / "verdict.json"
    verdict = json.loads(source.read_text())
    failed = [p for p in verdict["properties"] if p["outcome"] == "failed"]
    assert failed
    for p in failed:
        p["failure"].pop("script", None)
    saved = tmp_path / "verdict.json"
    saved.write_text(json.dumps(verdict))
    result = run("repro", str(saved))
    assert result.returncode == 0, result.stderr
    rewritten = json.loads(saved.read_text())
    for p in rewritten["properties"]:
        if p["outcome"] != "failed":
            continue
        if p["failure"]["case"]["check"]["kind"] not in SCRIPTED_CHECKS:  # e.g. transplant
            assert "script" not in p["failure"]
            continue
        script = tmp_path / p["failure"]["script"]
        assert f"wrote {script}" in result.stdout
        shown = forked.run([sys.executable, str(script)], timeout=300)
        assert shown.returncode == 1, shown.stdout + shown.stderr
        assert p["failure"]["script"] in (tmp_path / "verdict-summary.md").read_text()
