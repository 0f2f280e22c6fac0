"""AMSGrad's running maximum through the oracle: the exact reference against an independent
computation of each reading, the double-double maximum, the fast judge on large tensors, and
identification of torch's maximum of v and optax's maximum of v_hat."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from radam_verify import dd
from radam_verify.conventions import PRESETS
from radam_verify.fast_judge import judge_trajectory_fast
from radam_verify.floats import FLOAT32, FLOAT64
from radam_verify.hyper import Hyper
from radam_verify.judge import judge_trajectory
from radam_verify.reference import ExactState, exact_trajectory

HYPER = Hyper(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0)
# large gradients, then small ones: v falls below its earlier values, the maximum does not
GRADS = [[3.0, -2.0, 0.5], [-3.0, 1.0, 0.25], [0.01, 0.02, -0.5], [0.01, -0.03, 0.75],
         [0.02, 0.01, -0.01]]


def independent(reading: str, theta0: list[float], grads: list[list[float]],
                corrected: bool | str = True) -> list[mpmath.mpf]:
    """AMSGrad as the sources state it, written out in mpmath at 200 digits: torch's
    ``max(v_max, v) / (1 - b2^t)`` under the root, or optax's ``max(v_max, v / (1 - b2^t))``;
    without bias correction, the paper's Algorithm 2: ``m / (sqrt(max(v_max, v)) + eps)``;
    ``corrected`` ``m`` or ``v``: only that moment divided (optax's ``bias_correction_mu``
    and ``bias_correction_nu``: ``mu_hat = mu`` or ``nu_hat = nu`` where one is off)."""
    with mpmath.workdps(200):
        b1, b2 = mpmath.mpf(HYPER.beta1), mpmath.mpf(HYPER.beta2)
        lr, eps = mpmath.mpf(HYPER.lr), mpmath.mpf(HYPER.eps)
        theta = [mpmath.mpf(x) for x in theta0]
        m = [mpmath.mpf(0)] * len(theta)
        v = [mpmath.mpf(0)] * len(theta)
        top = [mpmath.mpf(0)] * len(theta)
        for t, grad in enumerate(grads, start=1):
            bc1 = 1 - b1**t if corrected in (True, "m") else 1
            bc2 = 1 - b2**t if corrected in (True, "v") else 1
            for i, g in enumerate(grad):
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * mpmath.mpf(g) ** 2
                if reading == "v":
                    top[i] = max(top[i], v[i])
                    root = mpmath.sqrt(top[i] / bc2)
                else:
                    top[i] = max(top[i], v[i] / bc2)
                    root = mpmath.sqrt(top[i])
                theta[i] = theta[i] - lr * (m[i] / bc1) / (root + eps)
        return theta


@pytest.mark.parametrize("preset", ["amsgrad", "optax-amsgrad", "amsgrad-paper"])
def test_the_exact_reference_follows_each_amsgrad_reading_as_its_source_states_it(
        preset: str) -> None:
    convention = PRESETS[preset]
    theta0 = [0.5, -1.25, 2.0]
    states = exact_trajectory(theta0, GRADS, HYPER, convention)
    wanted = independent(convention.amsgrad, theta0, GRADS, convention.bias_correction)
    for got, want in zip(states[-1].theta, wanted, strict=True):
        assert abs(got - want) <= mpmath.mpf(2) ** -110 * (1 + abs(want))
    # the maximum bites: v has fallen below the maximum kept for every element
    last = states[-1]
    held = last.v if convention.amsgrad == "v" or not convention.bias_correction else [
        x / (1 - mpmath.mpf(HYPER.beta2) ** last.t) for x in last.v]
    assert all(top > x for top, x in zip(last.v_max, held, strict=True))
    # and it matters: plain Adam ends elsewhere
    adam = exact_trajectory(theta0, GRADS, HYPER, PRESETS["optax-adam"])[-1]
    assert all(abs(a - b) > 1e-6 for a, b in zip(adam.theta, last.theta, strict=True))


def test_the_double_double_maximum_is_the_larger_value_exactly() -> None:
    rng = np.random.default_rng(5)
    hi = rng.standard_normal(64)
    lo = hi * 2.0**-60 * rng.standard_normal(64)
    x = dd.DD(*dd.two_sum(hi, lo))
    other_lo = np.where(np.arange(64) % 2 == 0, -x.lo, x.lo * 0.5)  # same hi, another lo
    y = dd.DD(*dd.two_sum(np.where(np.arange(64) % 3 == 0, x.hi, -x.hi), other_lo))
    top = dd.maximum(x, y)
    for i in range(64):
        with mpmath.workdps(60):
            a = mpmath.mpf(x.hi[i]) + mpmath.mpf(x.lo[i])
            b = mpmath.mpf(y.hi[i]) + mpmath.mpf(y.lo[i])
            got = mpmath.mpf(top.hi[i]) + mpmath.mpf(top.lo[i])
            assert got == max(a, b)


def torch_amsgrad(dtype: str, n: int, wrong_at: int | None = None
                  ) -> tuple[np.ndarray, list[np.ndarray], list[tuple[np.ndarray, ...]]]:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    theta0 = rng.standard_normal(n)
    param = torch.tensor(theta0, dtype=getattr(torch, dtype), requires_grad=True)
    optimizer = torch.optim.Adam([param], lr=HYPER.lr, betas=(HYPER.beta1, HYPER.beta2),
                                 eps=HYPER.eps, amsgrad=True, foreach=False)
    grads, observed = [], []
    for k in range(5):
        grad = torch.tensor(rng.standard_normal(n) * (3.0 if k < 2 else 0.05),
                            dtype=param.dtype)
        param.grad = grad
        optimizer.step()
        state = optimizer.state[param]
        top = state["max_exp_avg_sq"].double().numpy().copy()
        if wrong_at is not None and k == 3:  # the maximum forgotten at one element
            top[wrong_at] = state["exp_avg_sq"][wrong_at].item()
        grads.append(grad.double().numpy())
        observed.append((param.detach().double().numpy().copy(),
                         state["exp_avg"].double().numpy().copy(),
                         state["exp_avg_sq"].double().numpy().copy(), top))
    start = param.new_tensor(theta0).double().numpy()
    return start, grads, observed


@pytest.mark.parametrize(("dtype", "fmt"), [("float32", FLOAT32), ("float64", FLOAT64)])
def test_torch_amsgrad_conforms_on_a_large_tensor_and_a_lost_maximum_is_found(
        dtype: str, fmt: object) -> None:
    """10^4 elements around the fast centre (binary64, or double-double for float64): torch's
    maximum of v conforms under ``amsgrad``, not under optax's maximum of v_hat, and one
    element whose maximum is replaced by v is found at that element."""
    n = 10_000
    theta0, grads, observed = torch_amsgrad(dtype, n)
    zeros = np.zeros(n)
    start = (theta0, zeros, zeros, 0)
    assert judge_trajectory_fast(observed, start, grads, HYPER, PRESETS["amsgrad"], fmt).conforms
    other = judge_trajectory_fast(observed, start, grads, HYPER, PRESETS["optax-amsgrad"], fmt)
    assert not other.conforms
    theta0, grads, observed = torch_amsgrad(dtype, n, wrong_at=4321)
    lost = judge_trajectory_fast(observed, start, grads, HYPER, PRESETS["amsgrad"], fmt)
    assert not lost.conforms
    assert lost.worst is not None
    assert (lost.worst.quantity, lost.worst.index, lost.worst.t) == ("v_max", 4321, 4)
    # the mpmath judge on the first elements agrees with the verdict on the whole tensor
    head = [tuple(x[:8] for x in obs) for obs in observed]
    exact = judge_trajectory(head, ExactState.initial(theta0[:8]), [g[:8] for g in grads],
                             HYPER, PRESETS["amsgrad"], fmt)  # type: ignore[arg-type]
    assert exact.conforms


@pytest.mark.parametrize(("kwargs", "preset"), [
    ({"amsgrad": True}, "amsgrad"),
    ({}, "adam"),
])
def test_identify_tells_amsgrads_maximum_from_adam(kwargs: dict[str, object],
                                                   preset: str) -> None:
    pytest.importorskip("torch")
    from radam_verify.adapters import load_adapter
    from radam_verify.identify import identify

    found = identify(load_adapter("torch.optim:Adam", kwargs, "cpu", "float32"))
    assert found.preset == preset
    other = "none" if kwargs else "v"
    assert any(line.startswith(f"amsgrad={found.axes['amsgrad']}, not {other}: probe "
                               "'falling gradients'") for line in found.evidence), found.evidence



@pytest.mark.parametrize(("kwargs", "preset"), [
    ({"bias_correction_mu": False, "bias_correction_nu": False}, "amsgrad-paper"),
    ({}, "optax-amsgrad"),
])
def test_identify_tells_the_amsgrad_papers_raw_moments_from_optaxs_bias_corrected_ones(
        kwargs: dict[str, object], preset: str) -> None:
    """optax.amsgrad with both bias corrections off is the AMSGrad paper's Algorithm 2;
    the first step alone tells it from the bias-corrected reading (m_hat = m / (1 - b1))."""
    pytest.importorskip("optax")
    from radam_verify.adapters import load_adapter
    from radam_verify.identify import identify

    found = identify(load_adapter("optax:amsgrad", kwargs, "cpu", "float64"))
    assert found.preset == preset
    assert found.axes["bias_correction"] is (not kwargs)
    if kwargs:  # the bias-corrected reading differing in that axis alone is rejected
        assert any(line.startswith("bias_correction=false, not true: probe 'early steps'")
                   for line in found.evidence), found.evidence


@pytest.mark.parametrize(("kwargs", "corrected"), [
    ({"bias_correction_mu": False}, "v"), ({"bias_correction_nu": False}, "m")])
def test_optax_amsgrad_with_one_bias_correction_is_identified_and_follows_its_reading(
        kwargs: dict[str, object], corrected: str) -> None:
    """optax.amsgrad with one of its two bias corrections off divides only the other moment:
    identify names ``bias_correction`` for the moment still divided, and the exact
    reference of that reading is the sources' formula (:func:`independent`) with only that
    moment divided, which differs from both readings that divide both or neither."""
    pytest.importorskip("optax")
    from dataclasses import replace

    from radam_verify.adapters import load_adapter
    from radam_verify.identify import identify

    found = identify(load_adapter("optax:amsgrad", kwargs, "cpu", "float64"))
    assert found.axes["bias_correction"] == corrected
    assert found.convention is not None
    # with v raw the maximum of v_hat is the maximum of v: identify names the latter
    assert found.axes["amsgrad"] == ("v_hat" if corrected == "v" else "v")
    theta0 = [0.5, -1.25, 2.0]
    reading = replace(found.convention, eps="hat")
    got = exact_trajectory(theta0, GRADS, HYPER, reading)[-1].theta
    wanted = independent(reading.amsgrad, theta0, GRADS, corrected)
    for x, want in zip(got, wanted, strict=True):
        assert abs(x - want) <= mpmath.mpf(2) ** -110 * (1 + abs(want))
    for both in (True, False):
        other = independent(reading.amsgrad, theta0, GRADS, both)
        assert all(abs(x - y) > 1e-6 for x, y in zip(got, other, strict=True))
