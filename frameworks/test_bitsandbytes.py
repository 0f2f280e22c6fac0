"""The torch adapter against bitsandbytes itself (its CPU backend): the 32-bit AdamW is
identified as torch's AdamW reading and conforms in float32 apart from the float64 tensor of
a mixed-dtype group, which it steps in float32 (as its float64 rows do), and strided
parameters, which it steps in a contiguous copy, leaving their views behind; its Adam
applies decoupled decay, not L2; its state1/state2 are read and injected as m and v."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from radam_verify.adapters import GroupSpec, ParamState, load_adapter
from radam_verify.hyper import Hyper
from radam_verify.identify import identify
from radam_verify.matrix.configurations import CONFIGURATIONS

MIXED = "test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_format[default]"
STRIDED = "test_strided_views_follow_the_exact_step_and_write_only_inside_them[default]"


def check(tmp_path: Path, spec: str, *args: str) -> tuple[int, dict[str, object]]:
    report = tmp_path / "report"
    # in this process (-n 0): the verdict does not depend on where the properties run
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", spec,
                           "--profile", "quick", "--report", str(report), "-n", "0", *args],
                          capture_output=True, text=True, check=False, timeout=900)
    assert (report / "verdict.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads((report / "verdict.json").read_text())


def test_the_32bit_adamw_is_torchs_adamw_and_steps_a_float64_tensor_in_float32(
        tmp_path: Path) -> None:
    code, verdict = check(tmp_path, "bitsandbytes.optim:AdamW32bit")
    assert code == 1, verdict
    convention = verdict["convention"]
    assert isinstance(convention, dict)
    assert (convention["spec"], convention["source"]) == ("adamw", "identified")
    properties = verdict["properties"]
    assert isinstance(properties, list)
    outcome = {p["property"]: p["outcome"] for p in properties}
    assert sorted(p for p, o in outcome.items() if o == "failed") == [MIXED, STRIDED]
    failure = next(p["failure"] for p in properties if p["property"] == MIXED)
    # the float64 tensor of the group is the one that deviates
    dtypes = failure["case"]["scenario"]["groups"][failure["group"]]["dtypes"]
    assert dtypes[failure["tensor"]] == "float64"
    # a strided parameter's view keeps its old values
    failure = next(p["failure"] for p in properties if p["property"] == STRIDED)
    assert failure["quantity"] == "storage"
    assert "no longer holds the parameter" in failure["message"]
    assert sum(o == "passed" for o in outcome.values()) >= 12


def test_the_32bit_adam_decays_as_adamw_not_with_l2() -> None:
    found = identify(load_adapter("bitsandbytes.optim:Adam32bit"))
    assert found.axes["weight_decay"] == "decoupled"
    assert found.preset == "adamw"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_state_injected_at_a_late_step_reads_back_as_injected(dtype: str) -> None:
    adapter = load_adapter("bitsandbytes.optim:AdamW32bit", dtype=dtype)
    assert adapter.capabilities.inject_state
    theta = np.array([0.5, -2.0, 3.0])
    instance = adapter.open([GroupSpec(Hyper(), (theta,))])
    wanted = ParamState(theta, np.array([1e-3, -2e-2, 0.5]), np.array([1e-6, 4e-4, 0.3]), 10**6)
    instance.inject([[wanted]])
    held = instance.read()[0][0]
    assert np.array_equal(held.theta, adapter.to_format(wanted.theta))
    for got, want in ((held.m, wanted.m), (held.v, wanted.v)):  # state1, state2: float32
        assert got is not None
        assert np.array_equal(got, want.astype(np.float32).astype(np.float64))
    assert held.t == 10**6
    instance.step([[np.array([0.1, 0.2, 0.3])]])
    assert instance.read()[0][0].t == 10**6 + 1


REPRO = Path(__file__).resolve().parents[1] / "reports" / "repro"
SCRIPTS = sorted({f.repro for c in CONFIGURATIONS if c.environment == "bitsandbytes"
                  for f in c.findings})


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_bitsandbytes_repro_script_of_the_matrix_shows_its_deviation(script: str) -> None:
    done = subprocess.run([sys.executable, str(REPRO / script)], capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEVIATION reproduced" in done.stdout


def test_the_32bit_lamb_deviates_only_where_its_matrix_row_explains(tmp_path: Path) -> None:
    """Every failure of a quick verdict on the 32-bit LAMB is one its row's findings explain
    (a tensor of zeros never stepped, the ratio of the update without bias corrections, a
    strided parameter in new storage), and zero norms are among them."""
    (row,) = [c for c in CONFIGURATIONS if c.spec == "bitsandbytes.optim:LAMB"]
    code, verdict = check(tmp_path, row.spec, "--convention", row.convention)
    assert code == 1, verdict
    properties = verdict["properties"]
    assert isinstance(properties, list)
    failed = [p for p in properties if p["outcome"] == "failed"]
    for prop in failed:
        assert any(f.explains(prop["property"], prop["failure"]["message"])
                   for f in row.findings), prop["failure"]["message"]
    assert "test_lamb_trust_ratio_with_a_zero_norm_follows_the_rule" in {
        p["property"] for p in failed}
