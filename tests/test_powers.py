"""Running powers (``powers=running``): bias corrections and rho_t from the products of the
betas each step used, as PaddlePaddle's beta-power accumulators hold them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radam_verify.conventions import PRESETS, parse_convention
from radam_verify.fast_judge import judge_trajectory_fast
from radam_verify.floats import FLOAT64
from radam_verify.hyper import Hyper
from radam_verify.judge import judge_trajectory
from radam_verify.powers import running_powers
from radam_verify.reference import ExactState, exact_step
from radam_verify.schedule import schedule_step

RUNNING = parse_convention("pytorch,powers=running")
COUNT = PRESETS["pytorch"]
FIRST = Hyper(lr=1e-2, beta1=0.9, beta2=0.9, eps=1e-8)
#: five steps at beta2 = 0.9 (rho_5 = 4.6: an SGD step), then beta1 = 0.8 and beta2 = 0.99:
#: rho_6 is 6.0 from b2^6 and 182 from the product 0.9^5 0.99, both rectified
SCHEDULE = [FIRST] * 5 + [replace(FIRST, beta1=0.8, beta2=0.99)] * 5


def kernel_step(theta: Any, m: Any, v: Any, acc: list[Any], g: Any, h: Hyper,
                num: Callable[[float], Any], sqrt: Callable[[Any], Any]) -> tuple[Any, ...]:
    """One step of paddle/phi/kernels/impl/radam_kernel_impl.h, its accumulators ``acc`` =
    [b1^t, b2^t, rho] advanced in place, in the arithmetic of ``num`` (mpmath or float)."""
    b1, b2, eps, lr, one, two = num(h.beta1), num(h.beta2), num(h.eps), num(h.lr), num(1), num(2)
    rho_inf = two / (one - b2) - one
    acc[0], acc[1] = acc[0] * b1, acc[1] * b2
    acc[2] = (acc[2] * (b2 - acc[1]) + acc[1]) / (one - acc[1])
    m = b1 * m + (one - b1) * g
    v = b2 * v + (one - b2) * g * g
    m_hat = m / (one - acc[0])
    rho_t = rho_inf - two * acc[2]
    if rho_t > 5:
        r_t = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return theta - lr * m_hat * r_t * sqrt(one - acc[1]) / (sqrt(v) + eps), m, v
    return theta - lr * m_hat, m, v


def grads_of(n: int, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n) * (1 + 0.25 * k) for k in range(len(SCHEDULE))]


def test_running_powers_stand_aside_while_every_step_used_the_current_betas() -> None:
    """None (the count's certified schedule) until a beta changes; then the products, over
    the steps the tensor took, from a start at t whose steps used the first betas."""
    stepped = [True, True, False, True, True, True, True, True, True, True]
    found = running_powers(3, SCHEDULE, stepped)
    assert found[:5] == [None] * 5
    with mpmath.workprec(300):
        p1 = mpmath.mpf(0.9) ** 7 * mpmath.mpf(0.8)  # 3 + 4 steps (one skipped) at 0.9
        p2 = mpmath.mpf(0.9) ** 7 * mpmath.mpf(0.99)
        assert abs(found[5][0] / p1 - 1) < mpmath.mpf(2) ** -180
        assert abs(found[5][1] / p2 - 1) < mpmath.mpf(2) ** -180
    # back to the first betas: still not their powers
    assert running_powers(0, [FIRST, SCHEDULE[5], FIRST], [True] * 3)[2] is not None
    assert running_powers(0, [FIRST] * 4, [True] * 4) == [None] * 4


@settings(max_examples=40, deadline=None)
@given(t=st.integers(1, 300), beta1=st.floats(0.0, 0.999), beta2=st.floats(0.5, 0.9999))
def test_the_schedule_from_the_counts_own_powers_is_the_counts_schedule(
        t: int, beta1: float, beta2: float) -> None:
    with mpmath.workprec(400):
        powers = (+(mpmath.mpf(beta1) ** t), +(mpmath.mpf(beta2) ** t))
    counted = schedule_step(t, beta1, beta2, COUNT)
    running = schedule_step(t, beta1, beta2, COUNT, powers=powers)
    assert counted.rectified == running.rectified
    for name in ("rho_t", "bias_correction1", "bias_correction2", "rho_inf"):
        a, b = getattr(counted, name), getattr(running, name)
        assert abs(a - b) <= abs(a) * mpmath.mpf(2) ** -120


@pytest.mark.parametrize("convention", [RUNNING, COUNT], ids=["running", "count"])
def test_the_reference_follows_the_kernels_accumulators_through_changed_betas(
        convention: Any) -> None:
    """The kernel's recursions, in mpmath at 400 bits, against the exact steps with the
    running powers: the same trajectory under ``running``; under ``count`` the steps after
    the change differ (so the comparison can fail)."""
    n = 4
    grads = grads_of(n)
    theta0 = np.linspace(-1.0, 1.0, n)
    with mpmath.workprec(400):
        theta = [mpmath.mpf(x) for x in theta0]
        m = [mpmath.mpf(0)] * n
        v = [mpmath.mpf(0)] * n
        accs = [[mpmath.mpf(1), mpmath.mpf(1), mpmath.mpf(1)] for _ in range(n)]
        kernel = []
        for g, h in zip(grads, SCHEDULE, strict=True):
            stepped = [kernel_step(theta[i], m[i], v[i], accs[i], mpmath.mpf(float(g[i])), h,
                                   mpmath.mpf, mpmath.sqrt) for i in range(n)]
            theta, m, v = ([s[k] for s in stepped] for k in range(3))
            kernel.append(list(theta))
    powers = running_powers(0, SCHEDULE, [True] * len(SCHEDULE)) if convention.powers == \
        "running" else [None] * len(SCHEDULE)
    state = ExactState.initial(theta0)
    worst = mpmath.mpf(0)
    for g, h, p, expected in zip(grads, SCHEDULE, powers, kernel, strict=True):
        state = exact_step(state, [float(x) for x in g], h, convention, powers=p)
        worst = max(worst, *(abs(a - b) / abs(b) for a, b in zip(state.theta, expected,
                                                                  strict=True)))
    if convention.powers == "running":
        assert worst < mpmath.mpf(2) ** -100
    else:
        assert worst > mpmath.mpf(2) ** -20


def kernel_in_float64(theta0: np.ndarray, grads: Sequence[np.ndarray]) -> list[tuple[np.ndarray, ...]]:
    """The kernel's arithmetic in float64 (numpy): (theta, m, v) after each step."""
    theta, m, v = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0)
    acc = [np.float64(1), np.float64(1), np.float64(1)]
    observed = []
    for g, h in zip(grads, SCHEDULE, strict=True):
        theta, m, v = kernel_step(theta, m, v, acc, g, h, np.float64, np.sqrt)
        observed.append((theta.copy(), m.copy(), v.copy()))
    return observed


def test_a_kernel_with_accumulators_conforms_to_running_powers_and_not_to_the_count() -> None:
    """Both judges: the kernel's float64 arithmetic (its products and rho recursion
    rounded every step) within the running reading's bounds, and far outside the count's
    from the first step after the change."""
    theta0 = np.linspace(-1.0, 1.0, 8)
    grads = grads_of(8)
    observed = kernel_in_float64(theta0, grads)
    start = ExactState.initial(theta0)
    assert judge_trajectory(observed, start, grads, SCHEDULE, RUNNING, FLOAT64).conforms
    rejected = judge_trajectory(observed, start, grads, SCHEDULE, COUNT, FLOAT64,
                                first_failure=True)
    assert not rejected.conforms
    assert rejected.worst is not None
    assert rejected.worst.t == 6  # the first changed step
    zeros = np.zeros_like(theta0)
    fast_start = (theta0, zeros, zeros, 0)
    assert judge_trajectory_fast(observed, fast_start, grads, SCHEDULE, RUNNING,
                                 FLOAT64).conforms
    fast = judge_trajectory_fast(observed, fast_start, grads, SCHEDULE, COUNT, FLOAT64)
    assert not fast.conforms
    assert fast.worst is not None
    assert fast.worst.t >= 6


def test_the_running_allowance_holds_the_kernels_recursions_where_a_pows_would_not() -> None:
    """beta2 = 0.9999 over 2000 steps: the kernel's float64 products and rho recursion,
    against the exact b2^t, lie within the textbook allowance of running powers
    (``ScheduleErrors.binary64``: t u on the powers, 2 (t + 1) u more on rho's term) at every
    step, and beyond the allowance of one pow (2 u) at some: the reading needs its own."""
    from radam_verify.tolerance import ScheduleErrors

    beta2 = 0.9999
    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=beta2)
    power, rho = 1.0, 1.0
    beyond_a_pow = 0
    for t in range(1, 2001):
        power *= beta2
        rho = (rho * (beta2 - power) + power) / (1 - power)
        rho_t = (2 / (1 - beta2) - 1) - 2 * rho
        for convention in (RUNNING, COUNT):
            sched = schedule_step(t, 0.9, beta2, convention)
            errors = ScheduleErrors.binary64(sched, hyper, FLOAT64)
            bc2 = float(sched.bias_correction2)
            within = (abs((1 - power) - bc2) <= errors.bc2_rel * bc2
                      and abs(rho_t - float(sched.rho_t)) <= errors.rho_abs)
            if convention is RUNNING:
                assert within, t
            else:
                beyond_a_pow += not within
    assert beyond_a_pow > 0
