"""Property 9: every code path the implementation offers conforms on its own."""

from __future__ import annotations

import pytest

from radam_verify.suite import checks, draws
from radam_verify.suite.scenario import Scenario
from radam_verify.suite.target import Record, Target, calling, require_conforms


def test_every_code_path_conforms(verify_target: Target, verify_record: Record,
                                  verify_path: str | None) -> None:
    """Trajectories (weight decay and maximize drawn where supported) on one code path,
    selected by constructor keywords (for torch: for-loop, foreach, differentiable, capturable)."""
    if verify_path is None:
        pytest.skip(verify_target.adapter.capabilities.notes.get(
            "code paths", "the implementation offers a single code path"))
    what = f"code path {verify_path}"

    def prop(scenario: Scenario) -> None:
        outcome = calling(verify_target, what, scenario, lambda: checks.exact(
            verify_target.adapter, scenario, verify_target.convention))
        require_conforms(verify_target, what, scenario, outcome, verify_record)

    verify_target.verify(draws.trajectory(verify_target, path=verify_path), prop,
                         verify_target.profile.path_examples)
