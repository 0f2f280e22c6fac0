"""The exact schedule against independent high-precision computations and exact rationals."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radam_verify.conventions import PRESETS, parse_convention
from radam_verify.errors import OutOfDomainError, UsageError
from radam_verify.schedule import first_rectified_step, schedule_step

_CTX = mpmath.MPContext()
_CTX.prec = 400


def independent_rho(t: int, beta2: float) -> mpmath.mpf:
    """rho_t by a different route: log1p/expm1 at 400 bits, no interval arithmetic."""
    b = _CTX.mpf(beta2)
    if beta2 == 0.0:
        return _CTX.mpf(1)
    log_b = _CTX.log1p(-(1 - b))
    return 2 / (1 - b) - 1 - 2 * t / _CTX.expm1(-t * log_b)


def exact_sign(t: int, beta2: float, threshold: float) -> int:
    """sign(rho_t - threshold) from the cancellation-free form in rational arithmetic."""
    b = Fraction(beta2)
    num = sum((2 * k + 1) * b**k for k in range(t))
    den = sum(b**k for k in range(t))
    diff = num - Fraction(threshold) * den
    return (diff > 0) - (diff < 0)


def digits_of_agreement(a: mpmath.mpf, b: mpmath.mpf) -> float:
    if a == b:
        return math.inf
    return float(-_CTX.log10(abs(a - b) / abs(b)))


@given(
    beta2=st.one_of(
        st.floats(0.0, 0.9999999, exclude_max=True),
        st.floats(1e-16, 1e-4).map(lambda d: 1.0 - d),
    ),
    t=st.one_of(st.integers(1, 100), st.integers(1, 10**9)),
    beta1=st.floats(0.0, 0.999),
)
def test_schedule_agrees_with_an_independent_computation_to_25_digits(
    beta2: float, t: int, beta1: float
) -> None:
    step = schedule_step(t, beta1, beta2, PRESETS["pytorch"])
    assert digits_of_agreement(step.rho_t, independent_rho(t, beta2)) >= 25
    bc1 = 1 - _CTX.mpf(beta1) ** t
    bc2 = 1 - _CTX.mpf(beta2) ** t
    assert digits_of_agreement(step.bias_correction1, bc1) >= 25
    assert digits_of_agreement(step.bias_correction2, bc2) >= 25
    if step.r_t is not None:
        rho, inf = independent_rho(t, beta2), 2 / (1 - _CTX.mpf(beta2)) - 1
        r = _CTX.sqrt((rho - 4) * (rho - 2) * inf / ((inf - 4) * (inf - 2) * rho))
        assert digits_of_agreement(step.r_t, r) >= 25


def test_a_step_exceeding_the_threshold_by_1e_15_is_rectified() -> None:
    beta2, t = 0.8397685748659791, 6
    assert exact_sign(t, beta2, 5.0) == 1
    step = schedule_step(t, 0.9, beta2, PRESETS["pytorch"])
    assert step.rectified
    assert 0 < step.rho_t - 5 < 1e-14


def _crossing(t: int, threshold: float) -> float:
    """beta2 where rho_t = threshold, found by mpmath (rho_t increases with beta2)."""
    ctx = mpmath.MPContext()
    ctx.prec = 200

    def rho(b: mpmath.mpf) -> mpmath.mpf:
        return 2 / (1 - b) - 1 - 2 * t * b**t / (1 - b**t)

    root = ctx.findroot(lambda b: rho(b) - threshold, (ctx.mpf("0.3"), ctx.mpf("0.99999")),
                        solver="anderson")
    return float(root)


@given(
    t=st.integers(5, 14),
    threshold=st.sampled_from([4.0, 5.0]),
    ulps=st.integers(-4, 4),
    spec=st.sampled_from(["paper", "pytorch", "official", "paper,comparison=>="]),
)
def test_branch_is_decided_correctly_next_to_the_threshold(
    t: int, threshold: float, ulps: int, spec: str
) -> None:
    if t <= threshold:
        return  # rho_t < t: never rectified
    beta2 = _crossing(t, threshold)
    for _ in range(abs(ulps)):
        beta2 = math.nextafter(beta2, 2.0 if ulps > 0 else 0.0)
    convention = parse_convention(f"{spec},threshold={threshold:g}")
    expected = convention.rectifies(exact_sign(t, beta2, threshold))
    assert schedule_step(t, 0.9, beta2, convention).rectified == expected


def test_step_one_billion_is_computed_without_running_the_steps() -> None:
    start = time.perf_counter()
    step = schedule_step(10**9, 0.9, 0.9999999, PRESETS["pytorch"])
    assert time.perf_counter() - start < 1.0
    assert step.rectified
    assert digits_of_agreement(step.rho_t, independent_rho(10**9, 0.9999999)) >= 25


def test_float32_hyperparameters_use_the_float32_value_of_beta2() -> None:
    import numpy as np

    as_f32 = schedule_step(6, 0.9, 0.9999, PRESETS["pytorch"], hyper_rounding="float32")
    direct = schedule_step(6, 0.9, float(np.float32(0.9999)), PRESETS["pytorch"])
    assert as_f32.rho_t == direct.rho_t


def test_first_rectified_step_is_the_first_step_whose_sign_is_positive() -> None:
    for beta2 in (0.62, 0.7, 0.9, 0.999):
        for name, threshold in (("paper", 4.0), ("pytorch", 5.0)):
            first = first_rectified_step(beta2, PRESETS[name])
            if first is None:
                assert 2 / (1 - beta2) - 1 <= threshold
                continue
            assert exact_sign(first, beta2, threshold) == 1
            assert exact_sign(first - 1, beta2, threshold) <= 0


def test_the_global_mpmath_precision_is_never_changed() -> None:
    before = mpmath.mp.prec
    schedule_step(7, 0.9, 0.999, PRESETS["paper"], precision_bits=300)
    assert mpmath.mp.prec == before


@pytest.mark.parametrize(("t", "beta2"), [(0, 0.9), (3, 1.0), (3, -0.1)])
def test_bad_steps_or_betas_are_usage_errors(t: int, beta2: float) -> None:
    with pytest.raises(UsageError):
        schedule_step(t, 0.9, beta2, PRESETS["paper"])


def test_a_reading_with_float32_scalars_forms_the_schedule_from_binary32_betas() -> None:
    convention = parse_convention("adam,scalars=float32")
    step = schedule_step(1, 0.9, 0.999, convention)
    assert step.float32_scalars
    assert step.bias_correction1 == 1 - mpmath.mpf(float(np.float32(0.9)))
    assert step.bias_correction2 == 1 - mpmath.mpf(float(np.float32(0.999)))
    assert schedule_step(1, 0.9, 0.999, PRESETS["adam"]).bias_correction1 == 1 - mpmath.mpf(0.9)


def test_a_beta_that_rounds_to_one_in_binary32_is_out_of_the_float32_readings_domain() -> None:
    with pytest.raises(OutOfDomainError, match="rounds to 1 in binary32"):
        schedule_step(3, 0.9, 1 - 2.0**-30, parse_convention("pytorch,scalars=float32"))
    assert not schedule_step(3, 0.9, 1 - 2.0**-30, PRESETS["pytorch"]).rectified
