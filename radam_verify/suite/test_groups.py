"""Properties 5-6: parameter groups, missing gradients, weight decay and maximize."""

from __future__ import annotations

import pytest

from radam_verify.suite import checks, designed, draws
from radam_verify.suite.scenario import Scenario
from radam_verify.suite.target import Record, Target, calling, require_conforms


def _exact(target: Target, record: Record, what: str, scenario: Scenario) -> None:
    outcome = calling(target, what, scenario,
                      lambda: checks.exact(target.adapter, scenario, target.convention))
    require_conforms(target, what, scenario, outcome, record)


def test_parameter_groups_keep_their_own_hyperparameters(verify_target: Target,
                                                         verify_record: Record) -> None:
    """Groups with their own lr, betas, eps and weight decay (one added later where the
    implementation allows it); tensors without a gradient on some steps are not stepped."""
    def prop(scenario: Scenario) -> None:
        _exact(verify_target, verify_record, "parameter groups", scenario)

    verify_target.verify(draws.groups_scenario(verify_target), prop)


def test_weight_decay_follows_the_convention(verify_target: Target, verify_record: Record) -> None:
    """Non-zero weight decay in the convention's mode (L2, decoupled, unscaled)."""
    caps = verify_target.adapter.capabilities
    if not caps.weight_decay:
        pytest.skip(caps.notes.get("weight_decay", "the implementation takes no weight decay"))
    if verify_target.convention.weight_decay == "none":
        pytest.skip(f"the convention {verify_target.convention.spec} ignores weight decay")

    def prop(scenario: Scenario) -> None:
        _exact(verify_target, verify_record, "weight decay", scenario)

    hyper = draws.hyper_for(verify_target, weight_decay=True)
    verify_target.verify(draws.trajectory(verify_target, hyper=hyper), prop)


def test_maximize_ascends_as_the_exact_step(verify_target: Target, verify_record: Record) -> None:
    """With maximize, the step follows the exact step for the negated gradient."""
    caps = verify_target.adapter.capabilities
    if not caps.maximize:
        pytest.skip(caps.notes.get("maximize", "the implementation has no maximize option"))
    if caps.maximize_fixed is False:
        pytest.skip("the constructor keywords set maximize=False for every group")

    def prop(scenario: Scenario) -> None:
        _exact(verify_target, verify_record, "maximize", scenario)

    hyper = draws.hyper_for(verify_target, maximize=True)
    verify_target.verify(draws.trajectory(verify_target, hyper=hyper), prop)


def test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_format(
        verify_target: Target, verify_record: Record, verify_path: str | None) -> None:
    """A group that mixes dtypes (a bfloat16 tensor beside float32 ones, a float64 one beside
    float16 ones, in any position), on each code path (multi-tensor paths group tensors by
    dtype): every tensor follows the exact step within its own format's bound, so neither
    the neighbour's dtype nor its position changes a result."""
    caps = verify_target.adapter.capabilities
    if not caps.mixed_dtypes:
        pytest.skip(caps.notes.get("mixed_dtypes", "groups of several dtypes are drawn for "
                                   "torch optimizers"))

    what = "a group of mixed dtypes" + ("" if verify_path is None else f" on code path {verify_path}")

    def prop(scenario: Scenario) -> None:
        _exact(verify_target, verify_record, what, scenario)

    narrow = designed.narrow_first(verify_target, verify_path)
    verify_target.verify(draws.mixed(verify_target, path=verify_path), prop,
                         verify_target.profile.contract_examples,
                         designed=[] if narrow is None else [narrow])


def test_hyperparameters_set_between_steps_take_effect(verify_target: Target,
                                                       verify_record: Record) -> None:
    """A schedule sets some of the group's lr, beta1, beta2, eps and weight decay in the live
    optimizer between steps (before the last step, and in some examples once before that too): the
    trajectory follows the exact one, each step with the hyperparameters set before it
    (first a designed schedule of beta2: :func:`radam_verify.suite.designed.beta2_schedule`)."""
    caps = verify_target.adapter.capabilities
    if not caps.retune:
        pytest.skip(caps.notes.get("retune", "the adapter cannot set hyperparameters in a "
                                             "live optimizer"))
    if verify_target.adapter.state_layout.debiased:
        pytest.skip("the state holds bias-corrected moments, which a change of beta maps to "
                    "m and v in more than one legitimate way")

    def prop(scenario: Scenario) -> None:
        _exact(verify_target, verify_record, "hyperparameters set between steps", scenario)

    verify_target.verify(draws.retuned(verify_target), prop,
                         designed=[designed.beta2_schedule(verify_target)])
