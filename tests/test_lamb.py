"""LAMB through the oracle: the exact reference against an independent computation of each
library's reading, the trust ratio's zero-norm rule, the error bound of a norm, the float64
and double-double kernels within their own bounds, and the fast judge against the mpmath
judge on whole tensors (a defect each rejects at the same step)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from radam_verify import dd
from radam_verify.coefficients import exact_coefficients, exact_scalars
from radam_verify.conventions import PRESETS, parse_convention
from radam_verify.errors import ConventionError
from radam_verify.fast_judge import judge_trajectory_fast
from radam_verify.floats import FLOAT32, FLOAT64
from radam_verify.hyper import Hyper
from radam_verify.impls.lamb_defects import ConventionLamb, LambRatioOfSquares
from radam_verify.judge import judge_trajectory
from radam_verify.kernel import apply_step, apply_step_dd
from radam_verify.reference import ExactState, exact_step, exact_trajectory
from radam_verify.tolerance import ScheduleErrors, step_bound
from radam_verify.trust import norm_error

HYPER = Hyper(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-6, weight_decay=0.05)
THETA0 = [12.0, -9.5, 3.25, 0.5]
GRADS = [[3.0, -2.0, 0.5, 0.125], [-3.0, 1.0, 0.25, 0.0], [0.01, 0.02, -0.5, 1.5]]


def independent(preset: str, theta0: list[float], grads: list[list[float]],
                hyper: Hyper = HYPER) -> list[mpmath.mpf]:
    """Each library's LAMB as its source states it (``conventions.py``), in mpmath at 200
    digits: the paper's (and optax's) bias-corrected u + wd theta, torch-optimizer's
    uncorrected m / (sqrt(v) + eps) with ||theta|| clamped at 10, timm's ratio only where wd
    is not 0, Keras' decay of theta before a ratio formed from u alone."""
    with mpmath.workdps(200):
        b1, b2 = mpmath.mpf(hyper.beta1), mpmath.mpf(hyper.beta2)
        lr, eps, wd = mpmath.mpf(hyper.lr), mpmath.mpf(hyper.eps), mpmath.mpf(hyper.weight_decay)
        theta = [mpmath.mpf(x) for x in theta0]
        m = [mpmath.mpf(0)] * len(theta)
        v = [mpmath.mpf(0)] * len(theta)
        for t, grad in enumerate(grads, start=1):
            for i, g in enumerate(grad):
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * mpmath.mpf(g) ** 2
            if preset == "torch-optimizer-lamb":
                u = [m[i] / (mpmath.sqrt(v[i]) + eps) for i in range(len(theta))]
            else:
                bc1, bc2 = 1 - b1**t, 1 - b2**t
                u = [(m[i] / bc1) / (mpmath.sqrt(v[i] / bc2) + eps) for i in range(len(theta))]
            if preset == "keras-lamb":
                theta = [x - x * wd * lr for x in theta]
                w = u
            else:
                w = [u[i] + wd * theta[i] for i in range(len(theta))]
            norm_theta = mpmath.sqrt(sum(x**2 for x in theta))
            norm_w = mpmath.sqrt(sum(x**2 for x in w))
            phi = min(norm_theta, mpmath.mpf(10)) if preset == "torch-optimizer-lamb" else norm_theta
            ratio = phi / norm_w if phi > 0 and norm_w > 0 else mpmath.mpf(1)
            if preset == "timm-lamb" and wd == 0:
                ratio = mpmath.mpf(1)
            theta = [theta[i] - lr * ratio * w[i] for i in range(len(theta))]
        return theta


@pytest.mark.parametrize("preset", ["lamb", "timm-lamb", "torch-optimizer-lamb", "keras-lamb"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_the_exact_reference_follows_each_lamb_reading_as_its_source_states_it(
        preset: str, weight_decay: float) -> None:
    hyper = Hyper(HYPER.lr, HYPER.beta1, HYPER.beta2, HYPER.eps, weight_decay)
    states = exact_trajectory(THETA0, GRADS, hyper, PRESETS[preset])
    wanted = independent(preset, THETA0, GRADS, hyper)
    for got, want in zip(states[-1].theta, wanted, strict=True):
        assert abs(got - want) <= mpmath.mpf(2) ** -110 * (1 + abs(want))


def test_with_weight_decay_zero_each_step_has_norm_lr_phi() -> None:
    """Claim lamb-step-norm on the exact reference: ||theta_t - theta_(t-1)|| = lr
    min(||theta_(t-1)||, phi_max) at every step."""
    hyper = Hyper(HYPER.lr, HYPER.beta1, HYPER.beta2, HYPER.eps, 0.0)
    for preset in ("lamb", "torch-optimizer-lamb"):
        state = ExactState.initial(THETA0)
        for grad in GRADS:
            after = exact_step(state, grad, hyper, PRESETS[preset])
            with mpmath.workdps(60):
                step = mpmath.sqrt(mpmath.fsum((mpmath.mpf(a) - mpmath.mpf(b)) ** 2 for a, b
                                               in zip(after.theta, state.theta, strict=True)))
                phi = min(mpmath.sqrt(mpmath.fsum(mpmath.mpf(x) ** 2 for x in state.theta)),
                          PRESETS[preset].phi_max)
                assert abs(step - mpmath.mpf(hyper.lr) * phi) <= mpmath.mpf(2) ** -100 * phi
            state = after


def test_a_zero_norm_takes_the_ratio_one() -> None:
    """A tensor of zeros (||theta|| = 0) moves by lr w, Adam's step; a tensor whose direction is
    zero (no gradient yet, no decay) does not move."""
    hyper = Hyper(1e-2, 0.9, 0.999, 1e-8, 0.0)
    moved = exact_step(ExactState.initial([0.0, 0.0]), [1.0, -2.0], hyper, PRESETS["lamb"])
    # Adam's first step: lr g / (|g| + eps) per element, R = 1
    adam = [-1e-2 * g / (abs(g) + 1e-8) for g in (1.0, -2.0)]
    assert [float(x) for x in moved.theta] == pytest.approx(adam, rel=1e-14)
    still = exact_step(ExactState.initial([1.0, 2.0]), [0.0, 0.0], hyper, PRESETS["lamb"])
    assert [float(x) for x in still.theta] == [1.0, 2.0]


def test_a_norm_computed_from_perturbed_inputs_stays_within_its_bound() -> None:
    """norm_error against float32 norms of vectors moved by up to e_i per element, computed
    in float32 by numpy's pairwise sum and by a chained sum, the exact norm in mpmath."""
    rng = np.random.default_rng(7)
    for n in (1, 3, 17, 1000, 40000):
        x = rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)
        e = np.abs(x) * 2.0**-20
        moved = (x + e * rng.uniform(-1, 1, n)).astype(np.float32)
        with mpmath.workdps(60):
            exact = float(mpmath.sqrt(mpmath.fsum(mpmath.mpf(float(a)) ** 2 for a in x)))
        bound = norm_error(np.abs(x), e, exact, FLOAT32)
        chained = np.float32(0)
        for value in moved:
            chained = np.float32(chained + value * value)
        for computed in (np.sqrt(np.sum(moved * moved, dtype=np.float32)), np.sqrt(chained)):
            assert abs(float(computed) - exact) <= bound
        assert bound <= exact * (n * FLOAT32.u * 2 + 2.0**-19)
    assert norm_error(np.zeros(4), np.zeros(4), 0.0, FLOAT32) == 0.0
    assert math.isinf(norm_error(np.full(4, 1e20), np.zeros(4), 2e20, FLOAT32))


@pytest.mark.parametrize("preset", ["lamb", "torch-optimizer-lamb", "keras-lamb,trust_max=1"])
def test_the_fast_kernels_are_within_their_own_bound_of_the_exact_step(preset: str) -> None:
    """The binary64 kernel within the binary64 bound of exactly rounded scalars, the
    double-double kernel within the double-double bound, for a tensor of 3000 elements."""
    convention = parse_convention(preset)
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(3000) * 4
    m, v = rng.standard_normal(3000) * 0.1, rng.uniform(0, 0.05, 3000)
    grad = rng.standard_normal(3000)
    start = ExactState.from_floats(theta, m, v, 6)
    exact = np.array([float(x) for x in exact_step(start, list(grad), HYPER, convention).theta])
    c = exact_coefficients(7, HYPER, convention)
    fast = apply_step(theta, m, v, grad, c, HYPER, convention)[0]
    bound = step_bound(theta, m, v, grad, c, HYPER, convention, FLOAT64,
                       ScheduleErrors.rounded_only(FLOAT64), scale=False).theta
    assert np.all(np.abs(fast - exact) <= bound)
    wide = apply_step_dd(dd.DD.of(theta), dd.DD.of(m), dd.DD.of(v), grad,
                         exact_scalars(7, HYPER, convention), HYPER, convention)[0]
    limit = step_bound(theta, m, v, grad, c, HYPER, convention, dd.DOUBLE_DOUBLE,
                       ScheduleErrors.rounded_only(dd.DOUBLE_DOUBLE), scale=False).theta
    exact_low = np.array([float(x - float(x)) for x in
                          exact_step(start, list(grad), HYPER, convention).theta])
    assert np.all(np.abs((wide.hi - exact) + (wide.lo - exact_low)) <= limit)


def _run(cls: type[ConventionLamb], theta0: np.ndarray, grads: list[np.ndarray]
         ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    param = torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float32))
    opt = cls([param], lr=HYPER.lr, betas=(HYPER.beta1, HYPER.beta2), eps=HYPER.eps,
              weight_decay=HYPER.weight_decay)
    observed = []
    for g in grads:
        param.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        state = opt.state[param]
        observed.append(tuple(x.detach().double().numpy().copy()
                              for x in (param, state["exp_avg"], state["exp_avg_sq"])))
    return observed  # type: ignore[return-value]


@pytest.mark.parametrize("cls", [ConventionLamb, LambRatioOfSquares])
def test_the_fast_judge_and_the_mpmath_judge_agree_on_a_whole_tensor(
        cls: type[ConventionLamb]) -> None:
    """200 float32 elements through four steps: both judges accept the correct LAMB and reject
    the ratio of squares, with the same worst ratio to a part in 10^6."""
    rng = np.random.default_rng(11)
    theta0 = rng.standard_normal(200).astype(np.float32).astype(np.float64)
    grads = [rng.standard_normal(200).astype(np.float32).astype(np.float64) for _ in range(4)]
    observed = _run(cls, theta0, grads)
    convention = PRESETS["lamb"]
    slow = judge_trajectory(observed, ExactState.initial(theta0), grads, HYPER, convention,
                            FLOAT32)
    fast = judge_trajectory_fast(observed, (theta0, np.zeros(200), np.zeros(200), 0), grads,
                                 HYPER, convention, FLOAT32)
    assert slow.conforms == fast.conforms == (cls is ConventionLamb)
    assert fast.worst_ratio == pytest.approx(slow.worst_ratio, rel=1e-6)
    if not slow.conforms:
        assert slow.worst is not None
        assert fast.worst is not None
        assert (slow.worst.t, slow.worst.quantity) == (fast.worst.t, fast.worst.quantity)


def test_lamb_axes_belong_to_lamb_and_its_decay_in_the_ratio_to_lamb_alone() -> None:
    assert parse_convention("lamb,phi_max=10,trust_max=1").phi_max == 10.0
    assert parse_convention("torch-optimizer-lamb").spec == "torch-optimizer-lamb"
    assert parse_convention("lamb,bias_correction=false,phi_max=inf").spec == \
        "lamb,bias_correction=false"
    for bad in ("adam,weight_decay=in-ratio", "pytorch,phi_max=10", "lamb,trust_max=0",
                "lamb,weight_decay=merged", "lamb,amsgrad=v", "lamb,adapt=sometimes"):
        with pytest.raises(ConventionError):
            parse_convention(bad)


def _timm_clipped(grads: list[list[np.ndarray]], clip: float, dtype: torch.dtype
                  ) -> list[list[np.ndarray]]:
    """timm's Lamb's clipping (timm/optim/lamb.py ``_get_clip_grad_norm``): the norm of
    the tensors' norms (torch._foreach_norm), clamped at 1 from below, each gradient divided
    by it, in the gradients' dtype."""
    tensors = [[torch.tensor(g, dtype=dtype) for g in row] for row in grads]
    norms = torch._foreach_norm([g for row in tensors for g in row])
    factor = (torch.linalg.vector_norm(torch.stack(norms)) / clip).clamp_(min=1.0)
    return [[(g / factor).double().numpy() for g in row] for row in tensors]


@pytest.mark.parametrize(("dtype", "fmt"), [(torch.float32, FLOAT32), (torch.float64, FLOAT64)])
def test_globally_clipped_gradients_are_within_their_bound_of_the_exact_quotient(
        dtype: torch.dtype, fmt: object) -> None:
    """Two groups of tensors of 3 to 5000 elements whose global norm is far above 1: the
    factor is the exact norm (mpmath, 60 digits), and timm's clipped gradients, in float32
    or float64, are within the bound of binary64's g / c, which is the norm's (n u, for a sum
    of n squares in any order) relative to g / c; gradients whose norm is below the clip are
    used as they are, with no error."""
    from radam_verify.clipping import clip_step

    rng = np.random.default_rng(8)
    sizes = [[3, 5000], [17, 1, 250]]
    grads = [[rng.normal(size=n) * 10.0 ** rng.integers(-3, 2) for n in row] for row in sizes]
    grads = [[np.asarray(torch.tensor(g, dtype=dtype).double()) for g in row] for row in grads]
    formats = [[fmt] * len(row) for row in sizes]
    clipped = clip_step(grads, 1.0, formats)  # type: ignore[arg-type]
    with mpmath.workdps(60):
        exact = mpmath.sqrt(mpmath.fsum(mpmath.mpf(float(x)) ** 2
                                        for row in grads for g in row for x in g))
        assert abs(clipped.factor - exact) <= 1e-15 * exact
    assert clipped.factor > 10
    timm = _timm_clipped(grads, 1.0, dtype)
    u = fmt.u  # type: ignore[attr-defined]
    total = sum(g.size for row in grads for g in row)
    for ours, errors, theirs, given in zip(clipped.grads, clipped.errors, timm, grads,
                                           strict=True):
        for g64, error, observed, g in zip(ours, errors, theirs, given, strict=True):
            assert g64 is not None
            assert error is not None
            assert np.all(np.abs(observed - g64) <= error)
            # and the bound is the sum of n squares' (gamma_n, in whatever order it is
            # summed) relative to the clipped gradient, not a blanket allowance
            assert np.all(error <= (total + 16) * u * np.abs(g) / clipped.factor
                          + 4 * fmt.eta)  # type: ignore[attr-defined]
    small = [[g * 1e-6 / clipped.factor for g in row] for row in grads]
    untouched = clip_step(small, 1.0, formats)  # type: ignore[arg-type]
    assert untouched.factor == 1.0
    for row, given in zip(untouched.grads, small, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(row, given, strict=True))
    assert all(np.all(e == 0) for row in untouched.errors for e in row)


def test_timms_default_lamb_is_identified_with_its_gradients_clipped_globally() -> None:
    """timm's Lamb clips every gradient by the global norm at 1 (max_grad_norm=1.0): the
    probes' gradients have norms above 1, so the clipped reading is named, and the reading
    without clipping is rejected by the first probe."""
    from radam_verify.adapters import load_adapter
    from radam_verify.identify import identify

    found = identify(load_adapter("radam_verify.timm_optim:Lamb", {}, "cpu", "float64"))
    assert found.preset == "timm-lamb,clip_norm=1"
    assert any(line.startswith("clip_norm=1, not inf: probe 'early steps'")
               for line in found.evidence), found.evidence
    off = identify(load_adapter("radam_verify.timm_optim:Lamb", {"max_grad_norm": None},
                                "cpu", "float64"))
    assert off.preset == "timm-lamb"
