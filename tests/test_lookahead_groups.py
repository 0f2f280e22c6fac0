"""Lookahead counted per parameter group, on the real wrappers: timm's and pytorch-optimizer's
pass over a tensor without a gradient at their group's sync, torch-optimizer's pulls every
tensor of the group. Each conforms to its reading on the parameter-groups property (several
groups, tensors without a gradient on some steps) and deviates from the same reading counted
per tensor; the matrix rows (``radam_verify/matrix/lookahead_rows.py``) state the readings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from radam_verify.matrix.lookahead_rows import TO_LOOKAHEAD_ADDED_GROUP

pytest.importorskip("torch")

OVER_RADAM = '{"inner": "torch.optim:RAdam", "foreach": false}'
PROPERTY = "test_parameter_groups_keep_their_own_hyperparameters"
WRAPPERS = {
    "timm": ("radam_verify.timm_optim:Lookahead",
             "pytorch,lookahead_k=6,lookahead_start=first-sync"),
    "pytorch-optimizer": ("pytorch_optimizer:Lookahead", "pytorch,lookahead_k=5"),
    "torch-optimizer": ("torch_optimizer:Lookahead",
                        "pytorch,lookahead_k=5,lookahead_start=first-step"),
}


def _groups_property(tmp_path: Path, library: str, count: str) -> dict[str, Any]:
    """The parameter-groups property's outcome for ``library``'s wrapper under its reading
    with ``lookahead_count=count`` (quick profile, one process)."""
    spec, reading = WRAPPERS[library]
    pytest.importorskip(spec.split(":")[0].split(".")[0])
    report = tmp_path / f"{library}-{count}.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--verify-impl={spec}",
         f"--verify-kwargs={OVER_RADAM}", f"--verify-convention={reading},lookahead_count={count}",
         "--verify-profile=quick", f"--verify-report={report}", "-k", PROPERTY],
        capture_output=True, text=True, check=False, timeout=600, cwd=tmp_path)
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    (outcome,) = [p for p in json.loads(report.read_text())["properties"]
                  if p["property"] == PROPERTY]
    return dict(outcome)


@pytest.mark.parametrize(("library", "count"), [("timm", "group"),
                                                ("pytorch-optimizer", "group")])
def test_a_wrapper_counting_per_group_conforms_to_that_reading_and_not_to_a_tensor_count(
        tmp_path: Path, library: str, count: str) -> None:
    assert _groups_property(tmp_path, library, count)["outcome"] == "passed"
    per_tensor = _groups_property(tmp_path, library, "tensor")
    assert per_tensor["outcome"] == "failed"
    # the tensor that missed a step is synced on its group's phase: theta or phi is off
    assert "theta[" in per_tensor["failure"]["message"] or "slow[" in per_tensor["failure"][
        "message"]


def test_torch_optimizers_wrapper_syncs_every_tensor_and_fails_only_on_a_group_added_later(
        tmp_path: Path) -> None:
    outcome = _groups_property(tmp_path, "torch-optimizer", "group-all")
    if outcome["outcome"] == "failed":  # a group added later: KeyError 'counter'
        message = outcome["failure"]["message"]
        assert TO_LOOKAHEAD_ADDED_GROUP.explains(PROPERTY, message), message
