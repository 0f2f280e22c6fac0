"""Properties 7-8: saving and loading the state (serialized, or another optimizer's state
dict loaded in process, which must be a copy), and what a step must leave alone."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from radam_verify.suite import checks, draws
from radam_verify.suite.scenario import Scenario
from radam_verify.suite.target import Record, Target, calling, fail


def test_state_dict_round_trip_continues_exactly(verify_target: Target, verify_record: Record) -> None:
    """Saving the state mid-trajectory and loading it into a new optimizer over the same
    parameter values continues bit for bit as the uninterrupted run."""
    caps = verify_target.adapter.capabilities
    if not caps.save_load:
        pytest.skip(caps.notes.get("save_load", "the implementation cannot save its state"))
    strategy = draws.trajectory(verify_target, min_steps=2, max_steps=16).flatmap(
        lambda s: st.tuples(st.just(s), st.integers(1, len(s.steps) - 1)))

    verify_record.compares = ("theta, m, v (AMSGrad's maximum and Lookahead's slow weights where "
                              "read) and the step count of every tensor after each later "
                              "step, bit for bit against the uninterrupted run")

    def prop(drawn: tuple[Scenario, int]) -> None:
        scenario, save_at = drawn
        check: dict[str, object] = {"kind": "reload", "save_at": save_at}
        verify_record.count()
        found = calling(verify_target, "state_dict round trip", scenario,
                        lambda: checks.reload(verify_target.adapter, scenario, save_at), check)
        verify_record.compared += len(scenario.steps) - save_at
        if found is not None:
            raise fail(verify_target, "state_dict round trip", scenario,
                       f"the reloaded run differs from the uninterrupted one at {found}",
                       {"quantity": found.quantity, "mismatch": str(found)}, check)

    verify_target.verify(strategy, prop)


def test_a_loaded_state_dict_is_a_copy(verify_target: Target, verify_record: Record) -> None:
    """An optimizer that loads another's state_dict() in process is independent of it: its
    steps leave the source as it was, and changing the source (a step, its hyperparameters)
    or the state dict object afterwards leaves it continuing as one loaded from a serialized
    copy, bit for bit."""
    caps = verify_target.adapter.capabilities
    if not (caps.save_load and caps.live_state):
        pytest.skip(caps.notes.get("live_state", "the implementation's state is only saved "
                                   "serialized (no state dict object to share)"))
    strategy = draws.trajectory(verify_target, min_steps=3, max_steps=12).flatmap(
        lambda s: st.tuples(st.just(s), st.integers(1, len(s.steps) - 2)))
    verify_record.compares = ("the source's state after the loaded optimizer's step, and theta, "
                              "m, v and the step count of every later step against a serialized "
                              "copy, bit for bit")

    def prop(drawn: tuple[Scenario, int]) -> None:
        scenario, save_at = drawn
        check: dict[str, object] = {"kind": "transplant", "save_at": save_at}
        verify_record.count()
        found = calling(verify_target, "state dict loaded in process", scenario,
                        lambda: checks.transplant(verify_target.adapter, scenario, save_at), check)
        verify_record.compared += len(scenario.steps) - save_at
        if found is not None:
            raise fail(verify_target, "state dict loaded in process", scenario,
                       f"the loaded optimizer is not a copy: {found}",
                       {"quantity": found.quantity, "mismatch": str(found)}, check)

    verify_target.verify(strategy, prop, verify_target.profile.contract_examples)


def test_step_leaves_gradients_and_hyperparameters_unchanged(verify_target: Target,
                                                            verify_record: Record) -> None:
    """A step must not modify the gradients (with weight decay and maximize drawn too) or
    the groups' hyperparameters."""
    hyper = draws.hyper_for(verify_target, weight_decay=None)
    check: dict[str, object] = {"kind": "unchanged"}
    verify_record.compares = ("every gradient and every group's hyperparameters before and after "
                              "each step")

    def prop(scenario: Scenario) -> None:
        verify_record.count()
        found = calling(verify_target, "step leaves its inputs alone", scenario,
                        lambda: checks.unchanged(verify_target.adapter, scenario), check)
        verify_record.compared += len(scenario.steps)
        if found is not None:
            raise fail(verify_target, "step leaves its inputs alone", scenario, str(found),
                       {"quantity": found.quantity, "mismatch": str(found)}, check)

    verify_target.verify(draws.trajectory(verify_target, max_steps=8, hyper=hyper), prop)
