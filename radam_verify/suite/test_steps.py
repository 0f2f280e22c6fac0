"""Properties 1-4: single steps, trajectories, the threshold regime and the late regime.

Each property draws scenarios within what the implementation accepts and judges them
against the exact (mpmath) trajectory with the error model's bound.
"""

from __future__ import annotations

import math

import hypothesis
import pytest
from hypothesis import strategies as st

from radam_verify.suite import checks, draws
from radam_verify.suite.scenario import Scenario
from radam_verify.suite.target import Record, Target, calling, require_conforms


def _exact(target: Target, record: Record, what: str, scenario: Scenario, local: bool = False) -> None:
    check: dict[str, object] = {"kind": "exact", "local": local}
    outcome = calling(target, what, scenario,
                      lambda: checks.exact(target.adapter, scenario, target.convention, local=local),
                      check)
    require_conforms(target, what, scenario, outcome, record, check)


def test_one_step_from_its_own_state_matches_the_exact_step(verify_target: Target,
                                                            verify_record: Record) -> None:
    """Local error: one step from the implementation's own state (injected where possible,
    else reached by earlier steps and read back; else the first step) is within the bound,
    for theta and, where readable, both moments."""
    caps = verify_target.adapter.capabilities
    strategy: st.SearchStrategy[Scenario]
    if caps.inject_state:
        strategy = draws.injected_step(verify_target)
    elif caps.read_state:
        strategy = draws.trajectory(verify_target, min_steps=1, max_steps=12)
    else:
        strategy = draws.trajectory(verify_target, min_steps=1, max_steps=1)

    # each step judged from the state read back before it, where that state is the whole
    # state (slow weights a Lookahead reading keeps, but the adapter cannot read, are not)
    local = not caps.inject_state and not (verify_target.convention.lookahead
                                           and not caps.slow_state)

    def prop(scenario: Scenario) -> None:
        _exact(verify_target, verify_record, "one step from its own state", scenario,
               local=local)

    verify_target.verify(strategy, prop)


def test_trajectories_stay_within_the_global_bound(verify_target: Target,
                                                   verify_record: Record) -> None:
    """Global error: trajectories of several to hundreds of steps from a fresh state."""
    def prop(scenario: Scenario) -> None:
        _exact(verify_target, verify_record, "trajectory", scenario)

    verify_target.verify(draws.trajectory(verify_target), prop)


def test_steps_around_the_threshold_follow_the_exact_branch(verify_target: Target,
                                                            verify_record: Record) -> None:
    """b2 puts rho_t within a few ulps of the threshold at the switching step; inside
    binary64's evaluation error of the threshold either branch is accepted (ambiguity band)."""
    if verify_target.convention.is_adam:
        pytest.skip("Adam has no threshold: every step is rectified with r_t = 1")

    def prop(drawn: tuple[Scenario, float]) -> None:
        scenario, distance = drawn
        hypothesis.target(-math.log2(max(distance, 1e-300)), label="closeness of rho_t to threshold")
        _exact(verify_target, verify_record, "threshold regime", scenario)

    verify_target.verify(draws.threshold_regime(verify_target), prop)


def test_late_steps_with_r_t_near_one_match_the_exact_step(verify_target: Target,
                                                          verify_record: Record) -> None:
    """r_t and both bias corrections near 1: a state injected at t up to 10^7, or a long run."""
    caps = verify_target.adapter.capabilities
    examples = None if caps.inject_state else max(2, verify_target.profile.examples // 4)

    def prop(scenario: Scenario) -> None:
        _exact(verify_target, verify_record, "late regime", scenario)

    verify_target.verify(draws.late_regime(verify_target), prop, examples)
