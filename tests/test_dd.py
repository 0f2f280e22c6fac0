"""Double-double arithmetic keeps the error bound it states, against mpmath.

Each operation of :mod:`radam_verify.dd` is within ``U_DD`` (relative) plus ``ETA_DD``
(absolute) of the exact result, over magnitudes from subnormal to 10^150; the
transformations it builds on are error-free; and a whole RAdam step evaluated in
double-double (:func:`radam_verify.kernel.apply_step_dd`) is within the error model's bound
for ``fmt = DOUBLE_DOUBLE`` of the exact step, for every convention and hyperparameter the
suite draws: what the float64 fast judge relies on (derivations/error-model.md, section 6).
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radam_verify import dd
from radam_verify.coefficients import exact_scalars
from radam_verify.conventions import PRESETS, Convention
from radam_verify.errors import OutOfDomainError
from radam_verify.hyper import Hyper
from radam_verify.kernel import apply_step, apply_step_dd
from radam_verify.precision import real
from radam_verify.reference import ExactState, exact_step
from radam_verify.strategies import arrays, conventions, hypers
from radam_verify.tolerance import ScheduleErrors, step_bound

N = 16
#: enough bits to hold any sum of binary64 numbers exactly (2^1024 down to 2^-1074)
WIDE = mpmath.MPContext()
WIDE.prec = 2200


def exact(x: dd.DD, ctx: Any = real) -> list[Any]:
    """The double-doubles' values: exactly (``WIDE``), or at the reference's precision."""
    return [ctx.mpf(h) + ctx.mpf(lo) for h, lo in zip(x.hi.tolist(), x.lo.tolist(),
                                                      strict=True)]


def doubles(lo_exp: int = -300, hi_exp: int = 150) -> st.SearchStrategy[dd.DD]:
    """Double-doubles: a binary64 high part and a low part below half its ulp."""
    def build(hi: np.ndarray, fraction: np.ndarray) -> dd.DD:
        low = hi * 2.0**-54 * fraction
        return dd.DD(*dd.fast_two_sum(hi, low))
    return st.builds(build, arrays(np.float64, N, lo_exp, hi_exp),
                     arrays(np.float64, N, -3, 0))


def assert_within(got: dd.DD, want: list[Any], amplified: np.ndarray | float = 1.0) -> None:
    """Each element within U_DD relative plus ETA_DD absolute (times ``amplified``: a
    quotient's or a root's underflow errors are divided by the divisor, as the error model
    divides its absolute terms), where the exact result is below 2^995 (above, dd.certified says so)."""
    amplify = np.broadcast_to(np.asarray(amplified, dtype=np.float64), got.hi.shape)
    for i, (g, w) in enumerate(zip(exact(got, WIDE), want, strict=True)):
        if abs(w) > 2.0**995:  # beyond the split (dd.certified)
            continue
        assert abs(got.lo[i]) <= abs(got.hi[i]) * 2.0**-52 + 2.0**-1074, "not normalised"
        error = abs(g - w)
        assert error <= dd.U_DD * abs(w) + dd.ETA_DD * amplify[i], \
            (i, g, w, error / abs(w) if w else error)


@settings(max_examples=200, deadline=None)
@given(a=arrays(np.float64, N, -300, 150), b=arrays(np.float64, N, -300, 150))
def test_two_sum_and_two_prod_are_error_free(a: np.ndarray, b: np.ndarray) -> None:
    s, e = dd.two_sum(a, b)
    p, f = dd.two_prod(a, b)
    for i in range(N):
        assert WIDE.mpf(s[i]) + WIDE.mpf(e[i]) == WIDE.mpf(a[i]) + WIDE.mpf(b[i])
        exact_product = WIDE.mpf(a[i]) * WIDE.mpf(b[i])
        # a product below the normal range loses at most half a subnormal unit per product
        assert abs(WIDE.mpf(p[i]) + WIDE.mpf(f[i]) - exact_product) <= 4 * 2.0**-1074


@settings(max_examples=200, deadline=None)
@given(x=doubles(), y=doubles())
def test_every_operation_is_within_its_stated_bound(x: dd.DD, y: dd.DD) -> None:
    with np.errstate(all="ignore"):
        operations_within_bounds(x, y)


def operations_within_bounds(x: dd.DD, y: dd.DD) -> None:
    ex, ey = exact(x, WIDE), exact(y, WIDE)
    assert_within(dd.add(x, y), [a + b for a, b in zip(ex, ey, strict=True)])
    assert_within(dd.add_fp(x, y.hi), [a + WIDE.mpf(b) for a, b in zip(ex, y.hi.tolist(),
                                                                       strict=True)])
    assert_within(dd.mul(x, y), [a * b for a, b in zip(ex, ey, strict=True)])
    assert_within(dd.mul_fp(x, y.hi), [a * WIDE.mpf(b) for a, b in zip(ex, y.hi.tolist(),
                                                                       strict=True)])
    nonzero = y.hi != 0
    if nonzero.any():
        quotient = dd.div(dd.DD(x.hi[nonzero], x.lo[nonzero]), dd.DD(y.hi[nonzero], y.lo[nonzero]))
        assert_within(quotient, [a / b for a, b, k in zip(ex, ey, nonzero, strict=True) if k],
                      1 + 1 / np.abs(y.hi[nonzero]))
    root = dd.sqrt(dd.DD(np.abs(x.hi), np.sign(x.hi) * x.lo))
    with np.errstate(divide="ignore"):
        assert_within(root, [WIDE.sqrt(abs(a)) for a in ex], 1 + 1 / np.abs(root.hi))


def test_a_value_beyond_the_split_or_a_product_at_the_top_of_the_range_is_not_certified(
        ) -> None:
    with np.errstate(all="ignore"):
        big = dd.mul_fp(dd.DD.of(np.array([2.0**1000, 1.0])), 0.5)
        assert not dd.certified(big)
        assert dd.certified(dd.mul_fp(dd.DD.of(np.array([2.0**900, 1.0])), 0.5))
        # a finite square whose 26-bit partial products round above the largest binary64
        top = np.nextafter(np.sqrt(np.finfo(np.float64).max), 0.0)
        square = dd.mul(dd.DD.of(np.array([top, 3.0])), dd.DD.of(np.array([top, 3.0])))
        assert np.isfinite(top * top)
        assert dd.certified_elements(square).tolist() == [False, True]
        assert not dd.certified(dd.DD.of(np.array([np.inf])))


def test_an_exact_scalar_is_rounded_to_a_double_double() -> None:
    third = real.mpf(1) / 3
    x = dd.from_exact(third)
    assert abs(real.mpf(float(x.hi)) + real.mpf(float(x.lo)) - third) <= 2.0**-106 * third
    assert float(x.lo) != 0.0


@settings(max_examples=80, deadline=None)
@given(hyper=hypers(), convention=conventions(),
       t=st.one_of(st.integers(0, 12), st.integers(0, 10**6)), steps=st.integers(1, 3),
       theta=arrays(np.float64, 8, -8, 4), m=arrays(np.float64, 8, -8, 1),
       v=arrays(np.float64, 8, -12, 2),
       grads=st.lists(arrays(np.float64, 8, -8, 2), min_size=3, max_size=3))
def test_a_double_double_step_is_within_the_error_model_for_double_double(
        hyper: Hyper, convention: Convention, t: int, steps: int, theta: np.ndarray,
        m: np.ndarray, v: np.ndarray, grads: list[np.ndarray]) -> None:
    """From an exact state (each step starts from the double-double centre, held exactly),
    the double-double step is within the local bound for DOUBLE_DOUBLE of the exact step."""
    state = (dd.DD.of(theta), dd.DD.of(m), dd.DD.of(np.abs(v)))
    exact_state = ExactState.from_floats(theta.tolist(), m.tolist(), np.abs(v).tolist(), t)
    for k, grad in enumerate(grads[:steps], start=t + 1):
        scalars = exact_scalars(k, hyper, convention)
        try:
            want = exact_step(exact_state, grad.tolist(), hyper, convention)
        except OutOfDomainError:
            return
        new = apply_step_dd(*state, grad, scalars, hyper, convention)
        bound = step_bound(state[0].hi, state[1].hi, state[2].hi, grad, scalars.rounded(),
                           hyper, convention, dd.DOUBLE_DOUBLE,
                           ScheduleErrors.rounded_only(dd.DOUBLE_DOUBLE), scale=False)
        # an element the split overflowed on is reported (the judge then judges it exactly)
        certified = (dd.certified_elements(new[0]) & dd.certified_elements(new[1])
                     & dd.certified_elements(new[2]))
        for got, values, limit in ((new[0], want.theta, bound.theta), (new[1], want.m, bound.m),
                                   (new[2], want.v, bound.v)):
            for i, (g, w) in enumerate(zip(exact(got), values, strict=True)):
                if np.isfinite(limit[i]) and certified[i]:
                    assert abs(g - w) <= limit[i], (k, i, g, w, limit[i])
        if not certified.all():
            return
        # the next step starts from the centre, an exact state
        state = new
        exact_state = ExactState(tuple(exact(new[0])), tuple(exact(new[1])), tuple(exact(new[2])), k)


@pytest.mark.parametrize("shape", [(), (5,)])
def test_a_binary64_value_is_its_own_double_double(shape: tuple[int, ...]) -> None:
    values = np.full(shape, 0.1)
    x = dd.DD.of(values)
    assert np.array_equal(x.hi, values)
    assert not np.any(x.lo)


def test_the_binary64_step_exceeds_the_double_double_bound_and_the_double_double_step_not(
        ) -> None:
    """The bound is tight enough to see binary64 arithmetic: the binary64 kernel with the
    same exact coefficients (the fast reference of float32 implementations) is outside it,
    the double-double step inside."""
    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    convention = PRESETS["pytorch"]
    rng = np.random.default_rng(7)
    theta, m, v, grad = (rng.standard_normal(64), rng.standard_normal(64) * 1e-2,
                         rng.random(64) * 1e-4, rng.standard_normal(64))
    scalars = exact_scalars(11, hyper, convention)
    want = exact_step(ExactState.from_floats(theta.tolist(), m.tolist(), v.tolist(), 10),
                      grad.tolist(), hyper, convention)
    limit = step_bound(theta, m, v, grad, scalars.rounded(), hyper, convention,
                       dd.DOUBLE_DOUBLE, ScheduleErrors.rounded_only(dd.DOUBLE_DOUBLE))
    right = apply_step_dd(dd.DD.of(theta), dd.DD.of(m), dd.DD.of(v), grad, scalars, hyper,
                          convention)
    binary64 = apply_step(theta, m, v, grad, scalars.rounded(), hyper, convention)
    for k, (values, bound) in enumerate(((want.theta, limit.theta), (want.m, limit.m),
                                         (want.v, limit.v))):
        assert all(abs(g - w) <= b for g, w, b in zip(exact(right[k]), values, bound,
                                                       strict=True))
        assert any(abs(real.mpf(float(g)) - w) > b
                   for g, w, b in zip(binary64[k], values, bound, strict=True))
