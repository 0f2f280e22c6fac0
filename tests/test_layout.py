"""State layouts: the exact map between what an implementation stores and (theta, m, v, t),
the error of the debiased recursion's binary64 coefficients, and the layouts the torch
adapter finds by probing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radam_verify.adapters import GroupSpec, ParamState, load_adapter
from radam_verify.conventions import parse_convention
from radam_verify.hyper import Hyper
from radam_verify.layout import RAW, Layout, debiased_betas, identify_moments
from radam_verify.precision import real
from radam_verify.reference import ExactState, exact_step
from radam_verify.suite.scenario import Scenario, judge, run
from radam_verify.tolerance import debiased_beta_error

LAYOUT_RADAM = "radam_verify.impls.layouts:LayoutRAdam"
HAT = parse_convention("pytorch,eps=hat")
betas = st.floats(0.0, 1 - 2.0**-40)
finite = st.floats(-1e30, 1e30, allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(beta1=betas, beta2=betas, t=st.integers(1, 10**7), m=finite,
       v=st.floats(0.0, 1e30, allow_subnormal=False))
def test_the_debiased_map_is_inverted_exactly_at_working_precision(
    beta1: float, beta2: float, t: int, m: float, v: float
) -> None:
    layout, hyper = Layout("debiased"), Hyper(beta1=beta1, beta2=beta2)
    state = layout.exact_state([0.5], [m], [v], t, hyper)
    back = layout.stored(state, hyper)
    for held, mapped in ((m, back.m[0]), (v, back.v[0])):
        assert abs(mapped - held) <= abs(held) * real.ldexp(1, -110)


def test_a_debiased_state_at_t_zero_is_the_zero_raw_state() -> None:
    """At t = 0, 1 - b^0 = 0: whatever is held, the first step gives it the weight 0."""
    hyper = Hyper()
    state = Layout("debiased").exact_state([1.0], [3.0], [4.0], 0, hyper)
    assert (state.m, state.v) == ((0,), (0,))


def test_the_exact_debiased_recursion_gives_the_bias_corrected_moments() -> None:
    """m_hat_t = beta_hat_t m_hat_{t-1} + (1 - beta_hat_t) g, computed independently in
    mpmath, equals m_t / (1 - b1^t) of the raw reference at every step."""
    hyper = Hyper(beta1=0.8, beta2=0.95)
    layout = Layout("debiased")
    state = ExactState.initial([0.25, -2.0])
    m_hat = [real.mpf(0)] * 2
    with real.workprec(200):
        for t, g in enumerate(([1.0, -0.5], [0.3, 2.0], [-4.0, 1e-3], [0.5, 0.5]), start=1):
            state = exact_step(state, g, hyper, HAT)
            hat, comp = debiased_betas(hyper.beta1, t)
            m_hat = [hat * x + comp * real.mpf(gi) for x, gi in zip(m_hat, g, strict=True)]
            stored = layout.stored(state, hyper)
            for want, got in zip(m_hat, stored.m, strict=True):
                assert abs(want - got) <= abs(want) * real.ldexp(1, -110)


@pytest.mark.parametrize(("moments", "factor"), [("raw", 0.1), ("debiased", 1.0)])
def test_identify_moments_tells_raw_from_bias_corrected_ones(moments: str, factor: float) -> None:
    grad = [0.5, -1.0]
    m = [factor * g for g in grad]
    v = [(0.001 if moments == "raw" else 1.0) * g * g for g in grad]
    assert identify_moments(m, v, grad, 0.9, 0.999) == moments
    assert identify_moments([0.3 * g for g in grad], v, grad, 0.9, 0.999) is None


@settings(max_examples=300, deadline=None)
@given(beta=st.floats(1e-6, 1 - 2.0**-30), t=st.one_of(st.integers(1, 40), st.integers(1, 10**7)))
def test_every_binary64_evaluation_of_beta_hat_is_within_its_bound(beta: float, t: int) -> None:
    """Both forms of beta_hat (optimi's (b^t - b)/(b^t - 1) and b (1 - b^(t-1))/(1 - b^t))
    and both forms of its complement, in binary64, against the exact values."""
    hat, comp = debiased_betas(beta, t)
    bound = debiased_beta_error(beta, t, float(hat), float(comp))
    evaluations = [(beta**t - beta) / (beta**t - 1), beta * (1 - beta ** (t - 1)) / (1 - beta**t)]
    complements = [1 - x for x in evaluations] + [(1 - beta) / (1 - beta**t)]
    for x in evaluations:
        assert abs(real.mpf(x) - hat) <= bound
    for x in complements:
        assert abs(real.mpf(x) - comp) <= bound


def test_the_beta_hat_bound_is_reached_within_a_factor_of_four() -> None:
    """The allowance is needed: binary64 evaluations reach a quarter of it (at b = 0.999,
    steps 2 to 2000, a float64 implementation is up to ~10^3 ulps off in v_hat from it)."""
    ratios = []
    for t in range(2, 2001):
        hat, comp = debiased_betas(0.999, t)
        bound = debiased_beta_error(0.999, t, float(hat), float(comp))
        got = (0.999**t - 0.999) / (0.999**t - 1)
        ratios.append(float(max(abs(real.mpf(got) - hat), abs(real.mpf(1 - got) - comp))) / bound)
    assert 0.25 < max(ratios) <= 1.0


def test_beta_hat_is_exact_at_the_first_step() -> None:
    hat, comp = debiased_betas(0.9, 1)
    assert (hat, comp) == (0, 1)
    assert debiased_beta_error(0.9, 1, 0.0, 1.0) == 0.0
    # b^(t-1) within an ulp of 1: 1 - b^(t-1) is lost to rounding and nothing is bounded
    assert math.isinf(debiased_beta_error(1 - 2.0**-52, 2, 0.5, 0.5))


@pytest.mark.parametrize(("moments", "counter"), [
    ("debiased", "group"), ("debiased", "tensor"), ("raw", "group")])
def test_the_torch_adapter_finds_the_layout_by_probing(moments: str, counter: str) -> None:
    adapter = load_adapter(LAYOUT_RADAM, {"moments": moments, "counter": counter})
    assert adapter.state_layout == Layout(moments, counter)  # type: ignore[arg-type]
    assert adapter.capabilities.read_state
    assert adapter.capabilities.inject_state
    keys = adapter.keys  # type: ignore[attr-defined]
    assert keys.empty_keys == ("compensation",)
    assert dict(keys.group_set).get("setup") is (True if counter == "group" else None)


def _two_tensors_one_skipping(hyper: Hyper) -> Scenario:
    a, b = np.array([0.5, -1.5, 2.0]), np.array([1.0, 0.25])
    grads = [(np.array([0.1, -0.2, 0.3]), np.array([1.0, -1.0])),
             (np.array([0.4, 0.1, -0.3]), None),
             (np.array([-0.2, 0.2, 0.1]), np.array([0.5, 2.0])),
             (np.array([0.3, 0.3, -0.1]), np.array([-0.25, 1.0]))]
    return Scenario((GroupSpec(hyper, (a, b)),), tuple((g,) for g in grads))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("moments", "counter"), [
    ("debiased", "group"), ("debiased", "tensor"), ("raw", "group")])
def test_a_state_layout_conforms_only_when_judged_in_that_layout(
    moments: str, counter: str, dtype: str
) -> None:
    """The same run is exact in its own layout and far from it in the raw per-tensor one (the
    second tensor has no gradient at step 2: a group counter advances, a tensor's does not)."""
    adapter = load_adapter(LAYOUT_RADAM, {"moments": moments, "counter": counter}, dtype=dtype)
    scenario = _two_tensors_one_skipping(Hyper(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6))
    initial, observed = run(adapter, scenario)
    assert judge(adapter, scenario, HAT, initial, observed).conforms
    adapter.state_layout = RAW
    wrong = judge(adapter, scenario, HAT, initial, observed)
    assert not wrong.conforms
    worst = wrong.worst()
    assert worst is not None
    assert worst.judgement.worst_ratio > 100


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_debiased_state_injected_late_steps_exactly(dtype: str) -> None:
    """m_hat, v_hat injected at t = 10^6 (with the group's step and setup flag as a step leaves
    them) read back as injected, and the next step matches the exact one."""
    adapter = load_adapter(LAYOUT_RADAM, dtype=dtype)
    theta = np.array([0.5, -2.0, 3.0])
    start = ((ParamState(theta, np.array([1e-3, -2e-2, 0.5]), np.array([1e-6, 4e-4, 0.3]),
                         10**6),),)
    scenario = Scenario((GroupSpec(Hyper(lr=1e-3, beta2=0.9999), (theta,)),),
                        (((np.array([0.1, -0.3, 0.2]),),), ((np.array([0.0, 1.0, -1.0]),),)),
                        start=start)
    initial, observed = run(adapter, scenario)
    assert np.array_equal(initial[0][0].m, adapter.to_format(start[0][0].m))
    assert observed[-1][0][0].t == 10**6 + 2
    assert judge(adapter, scenario, HAT, initial, observed).conforms
