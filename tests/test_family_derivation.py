"""The family's claims against independent computations: the exact reference, and plain
simulations of AMSGrad, LAMB and Lookahead in rational or binary64 arithmetic."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from radam_verify.conventions import PRESETS, parse_convention
from radam_verify.derivation import amsgrad
from radam_verify.hyper import Hyper
from radam_verify.reference import ExactState, exact_step, exact_trajectory
from radam_verify.schedule import schedule_step

gradients = st.lists(st.floats(-8.0, 8.0).filter(lambda g: g != 0.0), min_size=1, max_size=6)


@given(theta=st.floats(-4.0, 4.0), grads=gradients, lr=st.floats(1e-4, 1.0),
       beta1=st.floats(0.0, 0.99), beta2=st.floats(0.0, 0.9999))
def test_adams_first_step_with_eps_zero_is_lr_times_the_sign_in_the_exact_reference(
        theta: float, grads: list[float], lr: float, beta1: float, beta2: float) -> None:
    hyper = Hyper(lr=lr, beta1=beta1, beta2=beta2, eps=0.0)
    state = exact_step(ExactState.initial([theta] * len(grads)), grads, hyper, PRESETS["adam"])
    for stepped, g in zip(state.theta, grads, strict=True):
        with mpmath.workprec(200):
            expected = mpmath.mpf(theta) - mpmath.mpf(lr) * (1 if g > 0 else -1)
            assert abs(stepped - expected) <= mpmath.mpf(2) ** -100 * (abs(theta) + lr)


#: gradients whose scaling by 2^-30 .. 2^30 stays a normal float, so the scaled gradient is
#: exactly the real gradient times the scale (a subnormal one would round)
normal_gradients = gradients.filter(lambda g: all(abs(x) >= 2.0**-990 for x in g))


@given(grads=st.lists(normal_gradients.map(lambda g: g[:1]), min_size=1, max_size=8),
       power=st.integers(-30, 30), spec=st.sampled_from(["adam,weight_decay=none", "keras-adam"]))
def test_adams_exact_trajectory_does_not_change_when_the_gradients_are_scaled(
        grads: list[list[float]], power: int, spec: str) -> None:
    scale = 2.0**power  # exact: the scaled gradients are the same reals times the scale
    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=0.0)
    convention = parse_convention(spec)
    plain = exact_trajectory([0.5], grads, hyper, convention)
    scaled = exact_trajectory([0.5], [[g[0] * scale] for g in grads], hyper, convention)
    for a, b in zip(plain, scaled, strict=True):
        with mpmath.workprec(200):
            assert abs(a.theta[0] - b.theta[0]) <= mpmath.mpf(2) ** -100


def test_a_rectified_radam_step_is_r_t_times_adams_step_from_the_same_state() -> None:
    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8)
    state = ExactState.from_floats([0.5, -1.0], [0.01, -0.02], [1e-4, 3e-4], 99)
    grad = [0.25, -0.5]
    radam, adam = PRESETS["pytorch"], PRESETS["keras-adam"]  # eps beside sqrt(v) in both
    r_t = schedule_step(100, hyper.beta1, hyper.beta2, radam).r_t
    assert r_t is not None
    assert 0 < r_t < 1
    rectified = exact_step(state, grad, hyper, radam)
    plain = exact_step(state, grad, hyper, adam)
    for x0, x_r, x_a in zip(state.theta, rectified.theta, plain.theta, strict=True):
        with mpmath.workprec(200):
            assert abs((x_r - x0) - r_t * (x_a - x0)) <= mpmath.mpf(2) ** -110


def _torch_amsgrad_effective_steps(beta1: Fraction, beta2: Fraction, grads: list[Fraction]
                                   ) -> list[Fraction]:
    """(sqrt(1 - b2^t) / ((1 - b1^t) sqrt(v_max_t)))^2, by running the recursion."""
    v = v_max = Fraction(0)
    found = []
    for t, g in enumerate(grads, start=1):
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)
        found.append((1 - beta2**t) / ((1 - beta1**t) ** 2 * v_max))
    return found


def test_the_amsgrad_case_is_what_the_recursion_gives() -> None:
    grads = [Fraction(1)] + [Fraction(0)] * (amsgrad.LATE - 1)
    steps = _torch_amsgrad_effective_steps(amsgrad.BETA1, amsgrad.BETA2, grads)
    for t in (amsgrad.EARLY, amsgrad.LATE):
        assert steps[t - 1] == amsgrad.effective_step_squared(t)
    assert steps[amsgrad.LATE - 1] > steps[amsgrad.EARLY - 1]


@given(st.lists(st.floats(-4.0, 4.0), min_size=2, max_size=40))
def test_amsgrad_without_bias_correction_never_grows_its_effective_step(grads: list[float]) -> None:
    beta2 = 0.999
    v = v_max = 0.0
    previous = np.inf
    for g in grads:
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)
        if v_max > 0:
            step = 1 / np.sqrt(v_max)
            assert step <= previous
            previous = step


@given(st.lists(st.floats(-10.0, 10.0), min_size=1, max_size=64).filter(
    lambda u: any(abs(x) > 1e-3 for x in u)), st.floats(1e-4, 1.0), st.floats(1e-3, 10.0))
def test_lambs_step_has_norm_lr_times_phi_for_any_direction(u: list[float], lr: float,
                                                            phi: float) -> None:
    direction = np.asarray(u)
    step = lr * phi / np.linalg.norm(direction) * direction
    assert np.isclose(np.linalg.norm(step), lr * phi, rtol=1e-12, atol=0)


@given(st.lists(st.fractions(-4, 4, max_denominator=64), min_size=1, max_size=12),
       st.fractions(Fraction(1, 64), 1, max_denominator=64), st.fractions(-4, 4, max_denominator=8))
def test_lookaheads_slow_weights_follow_the_closed_form(fast: list[Fraction], alpha: Fraction,
                                                         phi0: Fraction) -> None:
    phi = phi0
    for n, theta in enumerate(fast, start=1):
        phi = phi + alpha * (theta - phi)
        closed = (1 - alpha) ** n * phi0 + alpha * sum(
            (1 - alpha) ** (n - j) * fast[j - 1] for j in range(1, n + 1))
        assert phi == closed
