"""Properties of RAdam's family beyond RAdam's own: Adam's invariance to the gradients' scale,
and Lookahead's cycles.

With eps = 0, Adam's exact trajectory does not change when every gradient is multiplied by
c > 0 (derivation claim ``adam-scale-invariance``), and its first step is exactly +-lr per
element (``adam-first-step-sign``). The property draws trajectories with eps = 0 whose
gradients are scaled by a power of two (exact in every binary format, so the inputs are
the same reals times c), and judges each against the exact trajectory: an implementation
that replaces eps = 0, clamps v or otherwise depends on the gradients' size fails.

A reading with Lookahead is judged through whole cycles: trajectories of 2k to 3k + 1 steps,
the fast and slow weights each against the exact ones.

LAMB's step is not elementwise: each tensor (a layer) is scaled by its own trust ratio. With
weight decay 0 its step has norm lr phi(||theta||) exactly (claim ``lamb-step-norm``), so
groups of several tensors of different sizes are judged against the exact step, tensor by
tensor; and tensors whose parameters or direction are exactly zero (a bias initialised to
zeros, a gradient that vanishes) follow the reading's rule R = 1.
"""

from __future__ import annotations

from dataclasses import replace

import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

from radam_verify.adapters import GroupSpec
from radam_verify.suite import checks, draws
from radam_verify.suite.scenario import Scenario
from radam_verify.suite.target import Record, Target, calling, require_conforms

#: the powers of two the gradients are scaled by: far apart, and inside every format's range
SCALES = st.integers(-12, 12)


@st.composite
def _scaled_trajectories(draw: st.DrawFn, target: Target) -> Scenario:
    hyper = draws.hyper_for(target).map(lambda h: replace(h, eps=0.0))
    scenario = draw(draws.trajectory(target, min_steps=1, max_steps=8, hyper=hyper))
    scale = 2.0 ** draw(SCALES)
    steps = []
    for step in scenario.steps:
        scaled = []
        for group in step:
            grads: list[np.ndarray | None] = []
            for grad in group:
                if grad is None:
                    grads.append(None)
                    continue
                # a power of two keeps every value exact unless it leaves the format's
                # normal range, where the inputs would no longer be the same reals times c
                value = np.asarray(grad) * scale
                exact = target.adapter.to_format(value).astype(np.float64)
                normal = target.adapter.fmt.smallest_normal
                hypothesis.assume(np.array_equal(exact, value))
                hypothesis.assume(bool(np.all((value == 0) | (np.abs(value) >= normal))))
                grads.append(value)
            scaled.append(tuple(grads))
        steps.append(tuple(scaled))
    return replace(scenario, steps=tuple(steps))


def test_adam_steps_with_eps_zero_do_not_depend_on_the_gradient_scale(
        verify_target: Target, verify_record: Record) -> None:
    """Adam with eps = 0 and gradients scaled by 2^-12 to 2^12 follows the exact trajectory,
    which is the unscaled one (claim adam-scale-invariance)."""
    if not verify_target.convention.is_adam:
        pytest.skip("RAdam's steps below the threshold are lr * m_hat: they scale with the "
                    "gradients (only Adam's readings are invariant)")

    def prop(scenario: Scenario) -> None:
        what = "scaled gradients with eps = 0"
        outcome = calling(verify_target, what, scenario,
                          lambda: checks.exact(verify_target.adapter, scenario,
                                               verify_target.convention),
                          {"kind": "exact", "local": False})
        require_conforms(verify_target, what, scenario, outcome, verify_record)

    verify_target.verify(_scaled_trajectories(verify_target), prop)


@st.composite
def _cycles(draw: st.DrawFn, target: Target) -> Scenario:
    """A trajectory through two to three Lookahead cycles (2k to 3k + 1 steps)."""
    k = target.convention.lookahead_k
    return draw(draws.trajectory(target, min_steps=2 * k, max_steps=3 * k + 1))


def test_lookahead_cycles_follow_the_exact_fast_and_slow_weights(
        verify_target: Target, verify_record: Record) -> None:
    """Through two or three cycles of k steps, the fast weights theta and (where they can
    be read) the slow weights phi follow the exact trajectory of the reading: phi moves by
    alpha towards theta at every sync, theta equals phi right after it, and phi stays as it
    is between syncs (claim lookahead-closed-form)."""
    if not verify_target.convention.lookahead:
        pytest.skip("the reading has no Lookahead (lookahead_k = 0)")

    def prop(scenario: Scenario) -> None:
        what = "Lookahead cycles"
        outcome = calling(verify_target, what, scenario,
                          lambda: checks.exact(verify_target.adapter, scenario,
                                               verify_target.convention),
                          {"kind": "exact", "local": False})
        require_conforms(verify_target, what, scenario, outcome, verify_record)

    verify_target.verify(_cycles(verify_target), prop)


@st.composite
def _layers(draw: st.DrawFn, target: Target, zeros: bool) -> Scenario:
    """One group of two to four tensors (LAMB's layers) for one to three steps from a fresh
    state; weight decay 0, or (``zeros``) drawn, with some tensors' parameters and some
    gradients exactly zero."""
    hyper = draws.hyper_for(target)
    if not zeros:
        hyper = hyper.map(lambda h: replace(h, weight_decay=0.0))
    h = draw(hyper)
    steps = draw(st.integers(1, min(3, max(1, target.profile.max_steps))))
    count = draw(st.integers(2, 4))
    params = [draw(draws.param(target, -6, 3, steps, tensors=count)) for _ in range(count)]
    grads = draw(draws.gradient_steps(target, [p.shape for p in params], steps))
    if zeros:
        zeroed = draw(st.lists(st.booleans(), min_size=count, max_size=count))
        hypothesis.assume(any(zeroed))
        params = [np.zeros_like(p) if z else p for p, z in zip(params, zeroed, strict=True)]
        silent = draw(st.integers(0, count - 1))  # a tensor whose gradients vanish
        grads = [[np.zeros_like(g) if i == silent and g is not None else g
                  for i, g in enumerate(row)] for row in grads]
    return Scenario((GroupSpec(h, tuple(params)),),
                    tuple((tuple(row),) for row in grads))


def _lamb_exact(verify_target: Target, verify_record: Record, what: str, zeros: bool) -> None:
    if not verify_target.convention.is_lamb:
        pytest.skip("the reading is not LAMB's: its step has no trust ratio")

    def prop(scenario: Scenario) -> None:
        outcome = calling(verify_target, what, scenario,
                          lambda: checks.exact(verify_target.adapter, scenario,
                                               verify_target.convention),
                          {"kind": "exact", "local": False})
        require_conforms(verify_target, what, scenario, outcome, verify_record)

    verify_target.verify(_layers(verify_target, zeros), prop)


def test_lamb_step_of_each_tensor_has_norm_lr_phi(verify_target: Target,
                                                  verify_record: Record) -> None:
    """With weight decay 0, each tensor of a group of two to four is stepped by lr phi(||theta||)
    in norm along its own direction (claim lamb-step-norm): every element against the exact
    step, whose ratio is that tensor's own (a ratio formed over the group, or over the
    wrong vector, moves the elements)."""
    _lamb_exact(verify_target, verify_record, "LAMB's layers", zeros=False)


def test_lamb_trust_ratio_with_a_zero_norm_follows_the_rule(verify_target: Target,
                                                            verify_record: Record) -> None:
    """Tensors whose parameters are exactly zero (||theta|| = 0), or whose gradients vanish so
    that the direction is zero, take R = 1, the reading's rule: a zero parameter tensor
    moves by lr w, as Adam's step."""
    _lamb_exact(verify_target, verify_record, "LAMB's zero norms", zeros=True)
