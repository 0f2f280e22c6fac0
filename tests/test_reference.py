"""The exact reference: the mpmath path, single steps, groups, and the fast path's bound."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radam_verify.conventions import PRESETS, Convention, parse_convention
from radam_verify.errors import OutOfDomainError
from radam_verify.fast import FastState, fast_step, fast_trajectory
from radam_verify.floats import FLOAT64
from radam_verify.hyper import Hyper
from radam_verify.judge import judge_trajectory
from radam_verify.reference import ExactState, Group, exact_groups, exact_step, exact_trajectory
from radam_verify.strategies import arrays, conventions, gradient_sequences, hypers

SIZE = 5


@given(hyper=hypers(), convention=conventions(),
       theta0=arrays(np.float64, SIZE, -4, 3), grads=gradient_sequences(np.float64, SIZE, 8))
def test_fast_path_stays_within_its_bound_of_the_mpmath_path(
    hyper: Hyper, convention: Convention, theta0: np.ndarray, grads: list[np.ndarray]
) -> None:
    try:
        states = fast_trajectory(theta0, grads, hyper, convention)
        observed = [(s.theta, s.m, s.v) for s in states]
        verdict = judge_trajectory(observed, ExactState.initial(theta0.tolist()), grads, hyper,
                                   convention, FLOAT64, exact_scalars=True)
    except OutOfDomainError:
        return
    assert verdict.conforms, verdict


@given(hyper=hypers(), convention=conventions(), t=st.integers(10**5, 10**7),
       theta=arrays(np.float64, SIZE, -3, 3), m=arrays(np.float64, SIZE, -6, 0),
       grad=arrays(np.float64, SIZE, -6, 1))
def test_a_single_step_from_an_injected_late_state_matches_the_fast_path(
    hyper: Hyper, convention: Convention, t: int, theta: np.ndarray, m: np.ndarray,
    grad: np.ndarray,
) -> None:
    v = m * m + 1e-12
    start = ExactState.from_floats(theta, m, v, t)
    fast = fast_step(FastState(theta, m, v, t), grad, hyper, convention)
    try:  # (Adam rectifies every step: with b2 = 0, eps = 0 and g = 0 it divides m by 0)
        verdict = judge_trajectory([(fast.theta, fast.m, fast.v)], start, [grad], hyper,
                                   convention, FLOAT64, exact_scalars=True)
    except OutOfDomainError:
        return
    assert verdict.conforms, verdict


def test_the_mpmath_path_is_exact_far_below_binary64() -> None:
    rng = np.random.default_rng(7)
    theta0 = rng.standard_normal(20).tolist()
    grads = [rng.standard_normal(20).tolist() for _ in range(12)]
    hyper = Hyper(lr=0.05, beta2=0.99, weight_decay=0.01)
    for name in PRESETS:
        low = exact_trajectory(theta0, grads, hyper, PRESETS[name], precision_bits=128)[-1]
        high = exact_trajectory(theta0, grads, hyper, PRESETS[name], precision_bits=320)[-1]
        for a, b in zip(low.theta, high.theta, strict=True):
            assert abs(a - b) <= mpmath.mpf(2) ** -110 * max(1, abs(b))


def test_a_tensor_without_gradient_keeps_its_state_and_step_count() -> None:
    hyper = Hyper(lr=0.01)
    groups = [Group(hyper, ((1.0, -2.0), (0.5,))), Group(Hyper(lr=0.1, beta2=0.99), ((3.0,),))]
    grads = [
        [[[0.1, 0.2], [0.3]], [[-1.0]]],
        [[[0.1, 0.2], None], [[-1.0]]],
        [[[0.4, -0.2], [0.3]], [None]],
    ]
    out = exact_groups(groups, grads, PRESETS["pytorch"])
    alone = exact_trajectory((0.5,), [[0.3], [0.3]], hyper, PRESETS["pytorch"])[-1]
    assert out[0][1] == alone
    assert out[0][1].t == 2
    assert out[1][0].t == 2
    second = exact_trajectory((3.0,), [[-1.0], [-1.0]], groups[1].hyper, PRESETS["pytorch"])[-1]
    assert out[1][0] == second


def test_maximize_is_descent_on_the_negated_gradient() -> None:
    grads = [[0.3, -1e-3], [0.2, 5.0], [-0.7, 0.0]] * 3
    neg = [[-x for x in g] for g in grads]
    for name, convention in PRESETS.items():
        up = exact_trajectory((1.0, 2.0), grads, Hyper(maximize=True, weight_decay=0.1), convention)
        down = exact_trajectory((1.0, 2.0), neg, Hyper(weight_decay=0.1), convention)
        assert up[-1] == down[-1], name


def _fraction(x: mpmath.mpf) -> Fraction:
    man, exp = x.man_exp
    return Fraction(int(man)) * Fraction(2) ** int(exp)


def test_zero_over_zero_is_out_of_domain() -> None:
    hyper = Hyper(eps=0.0, beta2=0.9)
    with pytest.raises(OutOfDomainError):
        exact_trajectory((1.0,), [[0.0]] * 8, hyper, PRESETS["pytorch"])


def test_skip_leaves_theta_and_decay_alone_until_rectification() -> None:
    hyper = Hyper(lr=0.1, weight_decay=0.5)
    states = exact_trajectory((1.0,), [[0.5]] * 6, hyper, PRESETS["official"])
    assert [s.theta[0] for s in states[:5]] == [1.0] * 5
    assert states[5].theta[0] != 1.0
    sgd = exact_trajectory((1.0,), [[0.5]], hyper, PRESETS["official-sgd"])
    lr, wd, g = Fraction(0.1), Fraction(0.5), Fraction(0.5)
    manual = (1 - lr * wd) - lr * g  # m_hat = g after one step; the decay comes first
    assert abs(_fraction(sgd[0].theta[0]) - manual) < Fraction(1, 2**120)
    assert exact_step(states[0], None, hyper, PRESETS["official"]) == states[0]


@given(g=st.floats(1e-8, 1e3) | st.floats(-1e3, -1e-8), eps_root=st.floats(1e-16, 1.0),
       eps=st.sampled_from([0.0, 1e-8, 1e-3]), beta2=st.floats(0.5, 0.9999),
       placement=st.sampled_from(["optax-adam", "keras-adam"]))
def test_eps_root_goes_inside_the_root_of_what_the_eps_placement_reads(
        g: float, eps_root: float, eps: float, beta2: float, placement: str) -> None:
    """After one step from zero moments m_hat = g and v_hat = g^2, so theta_1 = theta_0 -
    lr g / (sqrt(g^2 + eps_root) + eps) where the root is of v_hat (optax), and theta_0 -
    lr sqrt(1 - b2) g / (sqrt((1 - b2) g^2 + eps_root) + eps) where it is of the raw v,
    the step scaled by sqrt(1 - b2^t): each formula here in mpmath at 300 bits, the
    reference at its 128."""
    hyper = Hyper(lr=0.1, beta1=0.9, beta2=beta2, eps=eps)
    convention = replace(PRESETS[placement], weight_decay="none", eps_root=eps_root)
    found = _fraction(exact_trajectory((1.0,), [[g]], hyper, convention)[0].theta[0])
    with mpmath.workprec(300):
        lr, gm, root = mpmath.mpf(0.1), mpmath.mpf(g), mpmath.mpf(eps_root)
        if convention.eps == "hat":
            want = 1 - lr * gm / (mpmath.sqrt(gm**2 + root) + eps)
        else:
            c2 = 1 - mpmath.mpf(beta2)
            want = 1 - lr * mpmath.sqrt(c2) * gm / (mpmath.sqrt(c2 * gm**2 + root) + eps)
        expected = _fraction(want)
    assert abs(found - expected) <= abs(expected) * Fraction(1, 2**110)  # 128-bit reference


#: Lookahead readings counted per group, with the library whose wrapper each one follows
_GROUP_COUNTED = {
    "timm": "pytorch,lookahead_k=3,lookahead_start=first-sync,lookahead_count=group",
    "torch-optimizer": "pytorch,lookahead_k=3,lookahead_start=first-step,lookahead_count=group-all",
    "pytorch-optimizer": "pytorch,lookahead_k=3,lookahead_count=group",
}


def _wrapper_loop(library: str, params: tuple[tuple[float, ...], ...], hyper: Hyper,
                  grads: list[tuple[list[float] | None, ...]], k: int, alpha: float
                  ) -> list[tuple[ExactState, tuple[mpmath.mpf, ...] | None]]:
    """The wrapper's step as each library writes it, around the inner optimizer's exact
    steps (no Lookahead in the inner reading): one counter for the group, advanced on
    every step() call; slow weights kept beside the inner state."""
    inner = PRESETS["pytorch"]
    states = [ExactState.initial(p) for p in params]
    slow: list[tuple[mpmath.mpf, ...] | None] = [
        s.theta if library == "pytorch-optimizer" else None for s in states]
    a = mpmath.mpf(alpha)
    with mpmath.workprec(200):
        for step, row in enumerate(grads, start=1):
            states = [exact_step(s, g, hyper, inner, precision_bits=200)
                      for s, g in zip(states, row, strict=True)]
            for i, (state, g) in enumerate(zip(states, row, strict=True)):
                fast = state.theta
                if library == "timm" and step % k == 0 and g is not None:
                    phi = slow[i] or fast  # lookahead_slow_buff copied from fast at first
                    phi = tuple(p + a * (x - p) for p, x in zip(phi, fast, strict=True))
                    slow[i], fast = phi, phi
                elif library == "torch-optimizer" and (step - 1) % k == 0:  # every tensor
                    phi = slow[i] or fast
                    fast = tuple(a * x + (1 - a) * p for p, x in zip(phi, fast, strict=True))
                    slow[i] = fast
                elif library == "pytorch-optimizer" and step % k == 0 and g is not None:
                    phi = slow[i]
                    assert phi is not None
                    fast = tuple(x + (1 - a) * (p - x) for p, x in zip(phi, fast, strict=True))
                    slow[i] = fast
                states[i] = replace(state, theta=fast)
    return list(zip(states, slow, strict=True))


@pytest.mark.parametrize("library", sorted(_GROUP_COUNTED))
def test_lookahead_counted_per_group_follows_the_wrappers_loop(library: str) -> None:
    hyper = Hyper(lr=0.05, beta1=0.8, beta2=0.9)
    params = ((1.0, -2.0), (0.5,), (3.0, 0.25))
    # tensor 1 misses the group's first step and a sync step; tensor 2 misses a middle one
    grads: list[tuple[list[float] | None, ...]] = [
        ([0.3, -1.0], None, [2.0, -0.5]),
        ([0.1, 0.2], [1.5], [0.4, 0.1]),
        ([-0.7, 0.9], None, [1.0, 1.0]),
        ([0.5, 0.5], [0.25], None),
        ([0.2, -0.3], [-1.0], [0.5, -2.0]),
        ([1.0, 0.0], None, [0.3, 0.6]),
        ([0.4, -0.4], [0.75], [-0.2, 0.2]),
    ]
    convention = parse_convention(_GROUP_COUNTED[library])
    got = exact_groups([Group(hyper, params)], [(row,) for row in grads], convention)[0]
    want = _wrapper_loop(library, params, hyper, grads, 3, 0.5)
    # and the same reading counted per tensor differs: the tensors that miss steps drift
    per_tensor = exact_groups([Group(hyper, params)], [(row,) for row in grads],
                              replace(convention, lookahead_count="tensor"))[0]
    for mine, (theirs, slow) in zip(got, want, strict=True):
        for x, y in zip(mine.theta, theirs.theta, strict=True):
            assert abs(x - y) <= mpmath.mpf(2) ** -110 * (1 + abs(y))
        assert mine.t == theirs.t
        if slow is not None:
            for x, y in zip(mine.slow_weights(), slow, strict=True):
                assert abs(x - y) <= mpmath.mpf(2) ** -110 * (1 + abs(y))
    assert any(a.theta != b.theta for a, b in zip(got[1:], per_tensor[1:], strict=True))
