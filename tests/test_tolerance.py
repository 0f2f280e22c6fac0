"""The error model: its bounds hold for the project's own float32 RAdam and are tight.

Tightness is max(error / bound) over many inputs; a bound that no correct
implementation comes near would accept defective ones, so the tests also require the
bound to reject known defects.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radam_verify.coefficients import textbook_coefficients
from radam_verify.conventions import PRESETS, Convention
from radam_verify.errors import OutOfDomainError
from radam_verify.floats import FLOAT32, FLOAT64, Format
from radam_verify.hyper import Hyper
from radam_verify.impls import NumpyRAdam
from radam_verify.impls.numpy_radam import NumpyState
from radam_verify.judge import Judgement, ambiguous_steps, judge_trajectory
from radam_verify.kernel import apply_step
from radam_verify.reference import ExactState
from radam_verify.strategies import arrays, conventions, gradient_sequences, hypers

SIZE = 6


def run_impl(impl: NumpyRAdam, state: NumpyState, grads: list[np.ndarray]
             ) -> list[tuple[np.ndarray | None, ...]]:
    """(theta, m, v, v_max, slow) after each step (None where the reading keeps none)."""
    out = []
    for grad in grads:
        state = impl.step(state, grad)
        out.append((state.theta, state.m, state.v, state.v_max, state.slow))
    return out


def judge(impl: NumpyRAdam, state: NumpyState, grads: list[np.ndarray], fmt: Format) -> Judgement:
    start = ExactState.from_floats(state.theta, state.m, state.v, state.t, state.v_max,
                                   state.slow)
    return judge_trajectory(run_impl(impl, state, grads), start, grads, impl.hyper,
                            impl.convention, fmt)


def assert_conforms(impl: NumpyRAdam, state: NumpyState, grads: list[np.ndarray],
                    fmt: Format) -> None:
    """The run is within its bounds; a case exact arithmetic cannot define is not judged."""
    try:
        verdict = judge(impl, state, grads, fmt)
    except OutOfDomainError:
        return
    assert verdict.conforms, verdict


@given(hyper=hypers(), convention=conventions(), t=st.one_of(st.integers(0, 12), st.integers(0, 10**7)),
       theta=arrays(np.float32, SIZE, -8, 4), m=arrays(np.float32, SIZE, -8, 1),
       v=arrays(np.float32, SIZE, -12, 2), grad=arrays(np.float32, SIZE, -8, 2))
def test_local_bound_holds_for_a_float32_step_from_any_state(
    hyper: Hyper, convention: Convention, t: int, theta: np.ndarray, m: np.ndarray,
    v: np.ndarray, grad: np.ndarray,
) -> None:
    impl = NumpyRAdam(hyper, convention)
    assert_conforms(impl, impl.state_at(theta, m, np.abs(v), t), [grad], FLOAT32)


@given(hyper=hypers(), convention=conventions(), theta0=arrays(np.float32, SIZE, -6, 3),
       grads=gradient_sequences(np.float32, SIZE, 12))
def test_global_bound_holds_along_float32_trajectories(
    hyper: Hyper, convention: Convention, theta0: np.ndarray, grads: list[np.ndarray]
) -> None:
    impl = NumpyRAdam(hyper, convention)
    assert_conforms(impl, impl.init(theta0), grads, FLOAT32)


@given(hyper=hypers(), convention=conventions(), theta0=arrays(np.float64, SIZE, -6, 3),
       grads=gradient_sequences(np.float64, SIZE, 12))
def test_bounds_hold_for_a_float64_implementation(
    hyper: Hyper, convention: Convention, theta0: np.ndarray, grads: list[np.ndarray]
) -> None:
    impl = NumpyRAdam(hyper, convention, np.float64)
    assert_conforms(impl, impl.init(theta0), grads, FLOAT64)


def _batch_tightness(make_impl: type[NumpyRAdam] | None = None, cases: int = 150) -> float:
    rng = np.random.default_rng(2024)
    worst = 0.0
    for _ in range(cases):
        name = str(rng.choice(list(PRESETS)))
        hyper = Hyper(lr=float(10 ** rng.uniform(-4, 0)), beta1=float(rng.uniform(0, 0.99)),
                      beta2=float(1 - 10 ** rng.uniform(-4, -0.5)), eps=1e-8,
                      weight_decay=float(rng.choice([0.0, 0.01])))
        impl = (make_impl or NumpyRAdam)(hyper, PRESETS[name])
        theta0 = rng.standard_normal(16).astype(np.float32)
        grads = [rng.standard_normal(16).astype(np.float32) for _ in range(int(rng.integers(1, 20)))]
        worst = max(worst, judge(impl, impl.init(theta0), grads, FLOAT32).worst_ratio)
    return worst


def test_bounds_are_within_a_small_factor_of_the_observed_error() -> None:
    worst = _batch_tightness()
    print(f"tightness: the largest error is {worst:.3f} of its bound")
    assert worst <= 1.0
    assert worst >= 0.02, "the bound is loose by more than 50x: it would hide defects"


@dataclass(frozen=True)
class Float32Schedule(NumpyRAdam):
    """Defect: the schedule (bias corrections, rho_t, r_t) evaluated in float32."""

    def step(self, state: NumpyState, grad: np.ndarray | None) -> NumpyState:
        if grad is None:
            return state
        f, h, t = np.float32, self.hyper, state.t + 1
        b1, b2 = f(h.beta1), f(h.beta2)
        bc1, bc2 = f(1) - b1 ** f(t), f(1) - b2 ** f(t)
        rho_inf = f(2) / (f(1) - b2) - f(1)
        rho_t = rho_inf - f(2) * f(t) * b2 ** f(t) / bc2
        c = textbook_coefficients(t, h, self.convention)
        if rho_t > f(self.convention.threshold):
            r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            c = replace(c, rectified=True, updates=True, coeff=float(f(h.lr) * r * np.sqrt(bc2) / bc1),
                        r_t=float(r))
        else:
            c = replace(c, rectified=False, updates=True, coeff=float(f(h.lr) / bc1), r_t=1.0)
        theta, m, v = apply_step(state.theta, state.m, state.v, np.asarray(grad, f), c, h,
                                 self.convention)
        return NumpyState(theta, m, v, t)


@dataclass(frozen=True)
class NoSecondBiasCorrection(NumpyRAdam):
    """Defect: sqrt(1 - beta2^t) left out of the rectified step."""

    def step(self, state: NumpyState, grad: np.ndarray | None) -> NumpyState:
        if grad is None:
            return state
        c = textbook_coefficients(state.t + 1, self.hyper, self.convention)
        if c.rectified:
            bc2 = 1 - self.hyper.beta2 ** (state.t + 1)
            c = replace(c, coeff=c.coeff / bc2**0.5)
        theta, m, v = apply_step(state.theta, state.m, state.v, np.asarray(grad, np.float32), c,
                                 self.hyper, self.convention)
        return NumpyState(theta, m, v, state.t + 1)


def test_a_float32_schedule_is_rejected_near_beta2_one() -> None:
    hyper = Hyper(lr=1e-3, beta2=0.9999)
    impl = Float32Schedule(hyper, PRESETS["pytorch"])
    grads = [np.full(4, 0.3, np.float32)] * 12
    assert not judge(impl, impl.init(np.ones(4, np.float32)), grads, FLOAT32).conforms


def test_a_missing_bias_correction_is_rejected() -> None:
    hyper = Hyper(lr=1e-3, beta2=0.999)
    impl = NoSecondBiasCorrection(hyper, PRESETS["pytorch"])
    grads = [np.full(4, 0.3, np.float32)] * 8
    assert not judge(impl, impl.init(np.ones(4, np.float32)), grads, FLOAT32).conforms


def test_inside_the_ambiguity_band_both_branches_are_accepted() -> None:
    # rho_6 exceeds 5 by about 9e-16 here: less than binary64's error in evaluating it
    hyper = Hyper(lr=1e-2, beta2=0.8397685748659791)
    convention = PRESETS["pytorch"]
    assert ambiguous_steps(hyper, convention, FLOAT32, range(1, 10)) == [6]
    grads = [np.linspace(-1, 1, 5, dtype=np.float32)] * 8
    for forced in (False, True):
        impl = ForcedBranchAt6(hyper, convention, forced=forced)
        verdict = judge(impl, impl.init(np.ones(5, np.float32)), grads, FLOAT32)
        assert verdict.conforms, (forced, verdict)
        assert verdict.ambiguous_steps == (6,)


@dataclass(frozen=True)
class ForcedBranchAt6(NumpyRAdam):
    forced: bool = False

    def step(self, state: NumpyState, grad: np.ndarray | None) -> NumpyState:
        if grad is None:
            return state
        c = textbook_coefficients(state.t + 1, self.hyper, self.convention)
        if state.t + 1 == 6:
            from radam_verify.coefficients import exact_coefficients

            c = exact_coefficients(6, self.hyper, self.convention, rectified=self.forced)
        theta, m, v = apply_step(state.theta, state.m, state.v, np.asarray(grad, np.float32), c,
                                 self.hyper, self.convention)
        return NumpyState(theta, m, v, state.t + 1)


def test_rectified_updates_are_not_judged_where_rho_inf_rounds_to_4() -> None:
    # b2 one ulp above 3/5: rho_inf - 4 is about 1e-15, lost to binary64 rounding, so a
    # legitimate r_t can be anything; the elements count as out of domain, not as errors
    hyper = Hyper(lr=1e-3, beta2=0.6000000000000001)
    convention = PRESETS["paper"]
    impl = NumpyRAdam(hyper, convention)
    state = impl.state_at(np.ones(3, np.float32), np.ones(3, np.float32), np.ones(3, np.float32), 74)
    verdict = judge(impl, state, [np.full(3, 0.5, np.float32)], FLOAT32)
    assert verdict.conforms
    assert verdict.out_of_domain == 3


def test_an_exact_value_beyond_the_largest_float_is_out_of_domain_not_a_deviation() -> None:
    """Decoupled decay with lr * wd = 10 multiplies theta by -9: from 1e38 the exact value
    leaves float32's range, where the correctly rounded result is an infinity."""
    theta = np.array([1e38], dtype=np.float32).astype(np.float64)
    hyper = Hyper(lr=10.0, weight_decay=1.0)
    largest = float(np.finfo(np.float32).max)
    assert abs(float(theta[0]) * (1 - 10.0)) > largest  # the exact theta overflows
    observed = [(np.array([-np.inf]), np.array([0.0]), np.array([0.0]))]
    start = ExactState.from_floats(theta, [0.0], [0.0], 0)
    with pytest.raises(OutOfDomainError, match="beyond the largest float32"):
        judge_trajectory(observed, start, [np.array([0.0])], hyper, PRESETS["official-sgd"], FLOAT32)
    smaller = np.float32(1e36).astype(np.float64)
    rounded = np.array([np.float32(smaller * (1 - 10.0))], dtype=np.float64)  # in range
    judged = judge_trajectory([(rounded, np.array([0.0]), np.array([0.0]))],
                              ExactState.from_floats([smaller], [0.0], [0.0], 0),
                              [np.array([0.0])], hyper, PRESETS["official-sgd"], FLOAT32)
    assert judged.conforms  # in range, the same step is judged as usual


@pytest.mark.parametrize("spacings", [0, 2])
def test_a_learning_rate_subnormal_in_float16_may_be_rounded_to_the_format_and_no_further(
        spacings: int) -> None:
    """float16 kernels (torch's ``add_(m, alpha=-lr)``) take the coefficient in the tensor's
    dtype, where lr = 1e-6 is subnormal: rounded so, its absolute error is up to half the
    smallest subnormal, which the bound allows (error-model.md, section 1); a coefficient
    two subnormal spacings further off is a different learning rate, and is rejected."""
    from radam_verify.floats import FLOAT16

    hyper = Hyper(lr=1e-6, beta1=0.0, beta2=0.999, eps=1e-8, weight_decay=0.0, maximize=False)
    theta, grad = np.zeros(3), np.array([100.0, -60.0, 0.5])
    alpha = np.float32(np.float16(hyper.lr)) + np.float32(spacings * 2.0**-24)
    assert alpha != np.float32(hyper.lr)
    # the first step is an SGD step with m' = g (beta1 = 0) and bias correction 1
    m = grad.astype(np.float16)
    stepped = (np.float32(0.0) - alpha * m.astype(np.float32)).astype(np.float16)
    v = (np.float32(1 - hyper.beta2) * np.square(m.astype(np.float32))).astype(np.float16)
    observed = [(stepped.astype(np.float64), m.astype(np.float64), v.astype(np.float64))]
    verdict = judge_trajectory(observed, ExactState.from_floats(theta, [0.0] * 3, [0.0] * 3, 0),
                               [grad], hyper, PRESETS["pytorch"], FLOAT16)
    assert verdict.conforms == (spacings == 0), verdict


def test_a_float64_step_from_a_subnormal_second_moment_with_eps_zero_is_within_its_bound(
        ) -> None:
    """v of 33 subnormal units and eps = 0: the denominator sqrt(v) carries the rounding of
    v on the subnormal grid (a relative 1e-3), and the bound must say so. Evaluated as
    m e_den / (den safe), two products of small numbers underflowed to 0 and left a bound of
    1e-28 relative, which rejected this correct binary64 step; the quotients first keep it."""
    hyper = Hyper(lr=1.0, beta1=0.9, beta2=0.999, eps=0.0, weight_decay=1.0)
    convention = PRESETS["paper"]
    impl = NumpyRAdam(hyper, convention, dtype=np.float64)
    state = impl.state_at(np.array([-3.869326328653804e-163, 0.5]), np.array([3e-323, 0.1]),
                          np.array([1.63e-322, 0.01]), 126)
    start = ExactState.from_floats(state.theta, state.m, state.v, 126)
    after = impl.step(state, np.zeros(2))
    verdict = judge_trajectory([(after.theta, after.m, after.v)], start, [np.zeros(2)], hyper,
                               convention, FLOAT64)
    assert verdict.conforms, verdict
    # the subnormal grid's error is really there: billions of ulps of theta[0]
    assert verdict.worst_error_ulps > 1e9


def _merged_adamw_step(theta: np.ndarray, m: np.ndarray, v: np.ndarray, t: int, g: np.ndarray,
                       hyper: Hyper) -> tuple[np.ndarray, ...]:
    """One float32 AdamW step as optax evaluates it: theta - lr (u + wd theta)."""
    f = np.float32
    b1, b2, lr, wd, eps = (f(x) for x in (hyper.beta1, hyper.beta2, hyper.lr,
                                          hyper.weight_decay, hyper.eps))
    theta, m, v, g = (x.astype(f) for x in (theta, m, v, g))
    # the moments take 1 - beta formed from the hyperparameter (as optax's Python floats do),
    # the bias corrections the binary32 betas (scalars=float32)
    m = b1 * m + f(1 - hyper.beta1) * g
    v = b2 * v + f(1 - hyper.beta2) * g * g
    u = (m / (f(1) - b1 ** f(t))) / (np.sqrt(v / (f(1) - b2 ** f(t))) + eps)
    return ((theta - lr * (u + wd * theta)).astype(np.float64), m.astype(np.float64),
            v.astype(np.float64))


def test_decay_merged_into_the_update_has_its_own_roundings_where_lr_times_wd_is_one() -> None:
    """With lr * wd = 1 the decayed parameter is exactly 0 and the step is -lr u: theta *
    (1 - lr wd) rounds nothing, but lr (u + wd theta) rounds u + theta, an error of order
    u |theta| that decoupled decay's bound does not allow and the merged reading does."""
    theta = np.array([3.0e3, -7.5e2, 1.0e4, 250.0])
    m, v = np.array([1e-3, -2e-2, 0.5, -1e-4]), np.array([1e-6, 4e-4, 0.25, 1e-8])
    g = np.array([2e-3, -1e-2, 0.25, -3e-4])
    theta, m, v, g = (x.astype(np.float32).astype(np.float64) for x in (theta, m, v, g))
    hyper = Hyper(lr=1.0, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1.0)
    t = 5000  # both bias corrections near 1: the schedule's allowance is small
    observed = [_merged_adamw_step(theta, m, v, t + 1, g, hyper)]
    start = ExactState.from_floats(theta, m, v, t)
    merged = Convention(eps="hat", weight_decay="merged", algorithm="adam", scalars="float32")
    decoupled = replace(merged, weight_decay="decoupled")
    assert judge_trajectory(observed, start, [g], hyper, merged, FLOAT32).conforms
    assert not judge_trajectory(observed, start, [g], hyper, decoupled, FLOAT32).conforms


@given(theta=arrays(np.float32, SIZE, -45, 3), phi=arrays(np.float32, SIZE, -45, 3),
       alpha=st.sampled_from([0.5, 0.25, 0.8, 1.0]), action=st.sampled_from(["set", "sync"]))
def test_a_sync_without_a_step_is_within_its_bound_in_each_form_the_wrappers_use(
        theta: np.ndarray, phi: np.ndarray, alpha: float, action: str) -> None:
    """A tensor without a gradient synced with its group (``lookahead_count=group-all``):
    timm's slow + alpha (fast - slow), torch-optimizer's alpha fast + (1 - alpha) slow and
    pytorch-optimizer's lerp(fast, slow, 1 - alpha), each in float32, stay within the bound
    of phi + alpha (theta - phi), exact; for the first sync, phi is a copy of theta and the
    exact result theta itself (half the smallest subnormal rounds to 0 there)."""
    from fractions import Fraction

    from radam_verify.conventions import parse_convention
    from radam_verify.tolerance import gradless_sync_bound

    reading = parse_convention(f"pytorch,lookahead_k=2,lookahead_alpha={alpha},"
                               "lookahead_start=first-step,lookahead_count=group-all")
    slow = theta.copy() if action == "set" else phi
    a, one_a = np.float32(alpha), np.float32(1 - alpha)
    with np.errstate(all="ignore"):
        forms = (slow + a * (theta - slow), a * theta + one_a * slow,
                 theta + one_a * (slow - theta))
    zeros = np.zeros(SIZE)
    bound = gradless_sync_bound(theta.astype(np.float64), zeros, zeros, slow.astype(np.float64),
                                None, action, reading, FLOAT32, None)  # type: ignore[arg-type]
    assert bound.slow is not None
    for form in forms:
        for i in range(SIZE):
            exact = Fraction(float(slow[i])) + Fraction(alpha) * (
                Fraction(float(theta[i])) - Fraction(float(slow[i])))
            if not np.isfinite(form[i]):
                continue  # beyond float32's range: the judge reports it as out of domain
            error = abs(Fraction(float(form[i])) - exact)
            assert error <= Fraction(float(bound.theta[i])), (action, i, form[i], exact)
            assert error <= Fraction(float(bound.slow[i]))
