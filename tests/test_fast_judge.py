"""The fast judge certifies what it judges: it agrees with the exact (mpmath) judge.

Both judge the same float32 runs, of the project's own numpy RAdam (every convention, the
whole hyperparameter domain, fresh and injected states) and of torch.optim.RAdam; their
ratios error / bound agree to a relative 1e-6 (the fast path's own error is of order 1e-9
of the bound), they accept and reject together, and where both find their worst element at
the same step and quantity, every element of that step agrees (the fast centre within a
millionth of the bound of the exact value, the tolerances to a relative 1e-6); a
perturbation of two ulps at one element of a 10^5-element tensor is found at that element
with its exact value.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from radam_verify.conventions import PRESETS, Convention, parse_convention
from radam_verify.dd import DOUBLE_DOUBLE
from radam_verify.errors import OutOfDomainError, UncertifiedError
from radam_verify.fast_judge import FAST_ABOVE, applies, centre_format, judge_trajectory_fast
from radam_verify.floats import FLOAT32, FLOAT64
from radam_verify.hyper import Hyper
from radam_verify.impls import NumpyRAdam
from radam_verify.judge import Judgement, Worst, judge_trajectory
from radam_verify.precision import real
from radam_verify.reference import ExactState, exact_step
from radam_verify.strategies import arrays, conventions, hypers

SIZE = 5


def both(observed: list[tuple[np.ndarray, ...]], start: tuple[np.ndarray, np.ndarray, np.ndarray, int],
         grads: list[np.ndarray], hyper: Hyper, convention: Convention,
         v_max: np.ndarray | None = None, slow: np.ndarray | None = None,
         ) -> tuple[Judgement, Judgement]:
    fast = judge_trajectory_fast(observed, (*start, v_max, slow), grads, hyper, convention,
                                 FLOAT32)
    exact = judge_trajectory(observed, ExactState.from_floats(*start, v_max, slow), grads, hyper,
                             convention, FLOAT32)
    return fast, exact


def assert_agree(fast: Judgement, exact: Judgement) -> bool:
    """The two judgements agree: verdict, worst ratio, and, where both report their worst
    element at the same step and quantity, every element of that step (see
    :func:`assert_agree_elementwise`). Returns whether the elements were compared."""
    assert fast.conforms == exact.conforms, (fast, exact)
    if math.isfinite(exact.worst_ratio):
        assert fast.worst_ratio == pytest.approx(exact.worst_ratio, rel=1e-6, abs=1e-12)
    else:
        assert not math.isfinite(fast.worst_ratio)
    f, e = fast.worst, exact.worst
    if f is None or e is None or (f.t, f.quantity) != (e.t, e.quantity):
        return False
    assert_agree_elementwise(f, e)
    return True


def assert_agree_elementwise(fast: Worst, exact: Worst) -> None:
    """Element by element at one step and quantity: the fast centre (a double-double's high
    and low parts for a binary64 implementation) lies within a millionth of the exact
    judge's bound of the exact value, and the two tolerances agree to a relative 1e-6 (the
    fast path's own error, added to its tolerance, is of order 1e-9 of the bound)."""
    centres = np.asarray(fast.exact_all, dtype=np.float64)
    lows = np.zeros_like(centres) if fast.exact_low is None else np.asarray(fast.exact_low)
    limits = np.asarray(fast.bound_all, dtype=np.float64)
    assert len(centres) == len(exact.exact_all) == len(exact.bound_all) == len(limits)
    for i, (value, bound) in enumerate(zip(exact.exact_all, exact.bound_all, strict=True)):
        assert isinstance(value, real.mpf)
        if not (math.isfinite(bound) and real.isfinite(value)):
            continue
        apart = abs(value - real.mpf(float(centres[i])) - real.mpf(float(lows[i])))
        assert apart <= 1e-6 * bound + 1e-300, (i, value, centres[i], lows[i], bound)
        assert limits[i] == pytest.approx(bound, rel=1e-6, abs=1e-300), (i, limits[i], bound)


@settings(max_examples=60)
@given(hyper=hypers(), convention=conventions(),
       t=st.one_of(st.integers(0, 12), st.integers(0, 10**6)), steps=st.integers(1, 4),
       theta=arrays(np.float32, SIZE, -8, 4), m=arrays(np.float32, SIZE, -8, 1),
       v=arrays(np.float32, SIZE, -12, 2), grads=st.lists(arrays(np.float32, SIZE, -8, 2),
                                                          min_size=4, max_size=4),
       perturb=st.sampled_from([0, 2, 64]))
def test_the_fast_judge_agrees_with_the_exact_judge_over_the_domain(
        hyper: Hyper, convention: Convention, t: int, steps: int, theta: np.ndarray,
        m: np.ndarray, v: np.ndarray, grads: list[np.ndarray], perturb: int) -> None:
    judged = judge_both(NumpyRAdam(hyper, convention), theta, m, v, t, grads[:steps], perturb)
    if judged is None:
        return
    fast, exact = judged
    if perturb == 0:
        assert exact.conforms
    event(f"elementwise: {assert_agree(fast, exact)}")


# a binary64 centre that cannot hold the exact value: v underflows to 0 with eps = 0 (beta2
# subnormal), 0/0 where the exact step is 0; the element is not judged, as by mpmath
@example(first=Hyper(), later=Hyper(beta2=2.2250738585e-313, eps=0.0),
         convention=PRESETS["lamb"], t=0, steps=2,
         theta=np.array([0, 0, -1, -1, 0], np.float32), m=np.array([0, 0, -1, -1, 0], np.float32),
         v=np.array([1e-45, 0, -1, -1, 0], np.float32),
         grads=[np.array(x, np.float32) for x in ([0, 0, 0, 0, -1], [0, -1, -1, 0, 0],
                                                   [-1, 0, -1, -1, -1], [0, -1, 0, -1, 0])],
         perturb=0)
@settings(max_examples=60)
@given(first=hypers(), later=hypers(), convention=conventions(),
       t=st.one_of(st.integers(0, 12), st.integers(0, 10**6)), steps=st.integers(2, 4),
       theta=arrays(np.float32, SIZE, -8, 4), m=arrays(np.float32, SIZE, -8, 1),
       v=arrays(np.float32, SIZE, -12, 2), grads=st.lists(arrays(np.float32, SIZE, -8, 2),
                                                          min_size=4, max_size=4),
       perturb=st.sampled_from([0, 2, 64]))
def test_the_fast_judge_agrees_with_the_exact_judge_where_a_schedule_sets_hyperparameters(
        first: Hyper, later: Hyper, convention: Convention, t: int, steps: int,
        theta: np.ndarray, m: np.ndarray, v: np.ndarray, grads: list[np.ndarray],
        perturb: int) -> None:
    """Hyperparameters set anew before the last step (maximize kept): each judge follows
    each step with its own; the ratios agree, and elementwise where both find their worst
    at the same step and quantity."""
    later = replace(later, maximize=first.maximize)
    each = [first] * (steps - 1) + [later]
    impls = [NumpyRAdam(h, convention) for h in each]
    state = impls[0].state_at(theta, m, np.abs(v), t)
    start = (state.theta.astype(np.float64), state.m.astype(np.float64),
             state.v.astype(np.float64), t)
    extra = tuple(None if x is None else x.astype(np.float64) for x in (state.v_max, state.slow))
    observed = []
    for impl, grad in zip(impls, grads, strict=False):
        state = impl.step(state, grad)
        th = state.theta.copy()
        moved = (th[SIZE // 2].view(np.int32) + np.int32(perturb)).view(np.float32)
        if np.isfinite(th[SIZE // 2]) and np.isfinite(moved):
            th[SIZE // 2] = moved
        observed.append(tuple(None if x is None else x.astype(np.float64)
                              for x in (th, state.m, state.v, state.v_max, state.slow)))
    g64 = [g.astype(np.float64) for g in grads[:steps]]
    try:
        exact = judge_trajectory(observed, ExactState.from_floats(*start, *extra), g64, each,
                                 convention, FLOAT32)
    except OutOfDomainError:
        return
    fast = judge_trajectory_fast(observed, (*start, *extra), g64, each, convention, FLOAT32)
    if perturb == 0:
        assert exact.conforms
    event(f"elementwise: {assert_agree(fast, exact)}")


def judge_both(impl: NumpyRAdam, theta: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
               grads: list[np.ndarray], perturb: int) -> tuple[Judgement, Judgement] | None:
    """Run ``impl`` (float32 or float64) from (theta, m, |v|, t), move theta's middle element
    by ``perturb`` ulps after each step, and judge the run with both judges (None: out of
    the exact judge's domain)."""
    fmt, bits = (FLOAT64, np.int64) if impl.dtype == np.float64 else (FLOAT32, np.int32)
    state = impl.state_at(theta, m, np.abs(v), t)
    start = (state.theta.astype(np.float64), state.m.astype(np.float64),
             state.v.astype(np.float64), t)
    v_max = None if state.v_max is None else state.v_max.astype(np.float64)
    slow = None if state.slow is None else state.slow.astype(np.float64)
    observed = []
    for grad in grads:
        state = impl.step(state, grad)
        th = state.theta.copy()
        moved = (th[SIZE // 2].view(bits) + bits(perturb)).view(impl.dtype)
        if np.isfinite(th[SIZE // 2]) and np.isfinite(moved):  # a few ulps, not inf to NaN
            th[SIZE // 2] = moved
        observed.append(tuple(None if x is None else x.astype(np.float64)
                              for x in (th, state.m, state.v, state.v_max, state.slow)))
    g64 = [g.astype(np.float64) for g in grads]
    try:
        exact = judge_trajectory(observed, ExactState.from_floats(*start, v_max, slow), g64,
                                 impl.hyper, impl.convention, fmt)
    except OutOfDomainError:
        return None
    return judge_trajectory_fast(observed, (*start, v_max, slow), g64, impl.hyper,
                                 impl.convention, fmt), exact


def torch_run(theta0: np.ndarray, grads: list[np.ndarray], hyper: Hyper,
              bad: int | None, ulps: int = 2) -> list[tuple[np.ndarray, ...]]:
    torch = pytest.importorskip("torch")
    param = torch.tensor(theta0, dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.RAdam([param], lr=hyper.lr, betas=(hyper.beta1, hyper.beta2),
                                  eps=hyper.eps, foreach=False)
    out: list[tuple[np.ndarray, ...]] = []
    for grad in grads:
        param.grad = torch.tensor(grad, dtype=torch.float32)
        optimizer.step()
        theta = param.detach().numpy().copy()
        if bad is not None:  # off by a few ulps at one element
            theta[bad] = (theta[bad].view(np.int32) + ulps).view(np.float32)
        state = optimizer.state[param]
        out.append((theta.astype(np.float64), state["exp_avg"].numpy().astype(np.float64),
                    state["exp_avg_sq"].numpy().astype(np.float64)))
    return out


@pytest.mark.parametrize("bad", [None, 257])
def test_the_fast_judge_agrees_with_the_exact_judge_on_torch(bad: int | None) -> None:
    rng = np.random.default_rng(1)
    n = 300
    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8)
    theta0 = rng.standard_normal(n).astype(np.float32).astype(np.float64)
    grads = [rng.standard_normal(n).astype(np.float32).astype(np.float64) for _ in range(8)]
    observed = torch_run(theta0, grads, hyper, bad)
    zeros = np.zeros(n)
    fast, exact = both(observed, (theta0, zeros, zeros, 0), grads, hyper, PRESETS["pytorch"])
    assert fast.conforms is (bad is None)
    assert_agree(fast, exact)
    assert fast.worst is not None
    assert exact.worst is not None
    assert (fast.worst.index, fast.worst.t, fast.worst.exact) == \
        (exact.worst.index, exact.worst.t, exact.worst.exact)


def test_one_wrong_element_of_a_large_tensor_is_found_with_its_exact_value() -> None:
    rng = np.random.default_rng(2)
    n, bad = 100_003, 99_991
    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    theta0 = rng.standard_normal(n).astype(np.float32).astype(np.float64)
    grads = [rng.standard_normal(n).astype(np.float32).astype(np.float64) for _ in range(2)]
    zeros = np.zeros(n)
    verdict = judge_trajectory_fast(torch_run(theta0, grads, hyper, bad, ulps=8),
                                    (theta0, zeros, zeros, 0),
                                    grads, hyper, PRESETS["pytorch"], FLOAT32)
    assert not verdict.conforms
    assert verdict.worst is not None
    assert (verdict.worst.index, verdict.worst.quantity, verdict.worst.t) == (bad, "theta", 1)
    # the exact value shown is the element's own, computed independently in mpmath
    state = ExactState.from_floats([theta0[bad]], [0.0], [0.0], 0)
    state = exact_step(state, [grads[0][bad]], hyper, PRESETS["pytorch"])
    assert verdict.worst.exact == real.nstr(state.theta[0], 20)


def test_large_tensors_are_judged_fast_binary64_ones_around_a_double_double_centre() -> None:
    assert applies(FLOAT32, FAST_ABOVE + 1)
    assert applies(FLOAT64, FAST_ABOVE + 1)
    assert not applies(FLOAT32, FAST_ABOVE)
    assert centre_format(FLOAT32) is FLOAT64
    assert centre_format(FLOAT64) is DOUBLE_DOUBLE


def normal(values: np.ndarray) -> np.ndarray:
    """The values with those below 2^-900 (subnormal ones among them) made 0 (a
    hyperparameter too: every one may be 0)."""
    return np.where(np.abs(values) < 2.0**-900, 0.0, values)


@settings(max_examples=60, deadline=None)
@given(hyper=hypers(), convention=conventions(),
       t=st.one_of(st.integers(0, 12), st.integers(0, 10**6)), steps=st.integers(1, 4),
       theta=arrays(np.float64, SIZE, -8, 4), m=arrays(np.float64, SIZE, -8, 1),
       v=arrays(np.float64, SIZE, -12, 2), grads=st.lists(arrays(np.float64, SIZE, -8, 2),
                                                          min_size=4, max_size=4),
       perturb=st.sampled_from([0, 1, 2, 64]), subnormal=st.booleans())
def test_the_double_double_judge_agrees_with_the_exact_judge_on_binary64(
        hyper: Hyper, convention: Convention, t: int, steps: int, theta: np.ndarray,
        m: np.ndarray, v: np.ndarray, grads: list[np.ndarray], perturb: int,
        subnormal: bool) -> None:
    """A binary64 implementation (the project's numpy RAdam in float64), correct or moved by
    a few ulps at one element, gets the same ratios from the double-double fast judge as from
    the exact judge where the values are far from underflow: the double-double centre's own
    error is of order 1e-15 of the bound. With subnormal values its absolute error (a few
    subnormal units, ``dd.ETA_DD``) can exceed a binary64 bound there: the fast judge then
    accepts more, never less (a rejection stays sound)."""
    if not subnormal:
        theta, m, v, grads = normal(theta), normal(m), normal(v), [normal(g) for g in grads]
        hyper = replace(hyper, **{name: float(normal(np.array(getattr(hyper, name))))
                                  for name in ("lr", "beta1", "beta2", "eps", "weight_decay")})
    judged = judge_both(NumpyRAdam(hyper, convention, dtype=np.float64), theta, m, v, t,
                        grads[:steps], perturb)
    if judged is None:
        return
    fast, exact = judged
    if perturb == 0:
        assert exact.conforms
    if not subnormal:
        event(f"elementwise: {assert_agree(fast, exact)}")
    else:
        assert fast.conforms or not exact.conforms
        assert fast.worst_ratio <= exact.worst_ratio * (1 + 1e-6) + 1e-12 or \
            not math.isfinite(exact.worst_ratio)


def test_a_binary64_error_of_one_ulp_at_one_element_of_a_large_tensor_is_measured_exactly(
        ) -> None:
    """torch.optim.RAdam in float64 on 10^5 elements, one element moved by 4 ulps: the
    double-double judge rejects it there and measures its error as the exact judge does for
    that element alone (a binary64 centre would be off by up to half an ulp)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    n, bad = 100_003, 77_777
    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    theta0 = rng.standard_normal(n)
    grads = [rng.standard_normal(n) for _ in range(2)]
    param = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.RAdam([param], lr=hyper.lr, foreach=False)
    observed = []
    for grad in grads:
        param.grad = torch.tensor(grad)
        optimizer.step()
        theta = param.detach().numpy().copy()
        state = optimizer.state[param]
        observed.append((theta, state["exp_avg"].numpy().copy(),
                         state["exp_avg_sq"].numpy().copy()))
    zeros = np.zeros(n)
    correct = judge_trajectory_fast(observed, (theta0, zeros, zeros, 0), grads, hyper,
                                    PRESETS["pytorch"], FLOAT64)
    assert correct.conforms
    observed[1][0][bad] = (observed[1][0][bad].view(np.int64) + 4).view(np.float64)
    verdict = judge_trajectory_fast(observed, (theta0, zeros, zeros, 0), grads, hyper,
                                    PRESETS["pytorch"], FLOAT64)
    one = [(o[0][bad:bad + 1], o[1][bad:bad + 1], o[2][bad:bad + 1]) for o in observed]
    alone = judge_trajectory(one, ExactState.from_floats([theta0[bad]], [0.0], [0.0], 0),
                             [g[bad:bad + 1] for g in grads], hyper, PRESETS["pytorch"], FLOAT64)
    assert verdict.worst is not None
    assert alone.worst is not None
    assert (verdict.worst.index, verdict.worst.quantity, verdict.worst.t) == (bad, "theta", 2)
    assert verdict.worst.error == alone.worst.error
    assert verdict.worst.exact == alone.worst.exact
    assert verdict.worst_ratio == pytest.approx(alone.worst_ratio, rel=1e-9)


@pytest.mark.parametrize("convention", sorted(PRESETS))
def test_every_preset_is_judged_alike_from_a_rectified_state(convention: str) -> None:
    """Every preset, from a state injected at t = 40 (rectified for these betas): the two
    judges give the same ratio, so the fast path's own share of the tolerance is negligible."""
    rng = np.random.default_rng(3)
    n = 128
    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8)
    conv = PRESETS[convention]
    impl = NumpyRAdam(hyper, conv)
    state = impl.state_at(rng.standard_normal(n), rng.standard_normal(n) * 0.1,
                          rng.random(n) * 0.01, 40)
    start = (state.theta.astype(np.float64), state.m.astype(np.float64),
             state.v.astype(np.float64), 40)
    v_max = None if state.v_max is None else state.v_max.astype(np.float64)
    slow = None if state.slow is None else state.slow.astype(np.float64)
    grads = [rng.standard_normal(n).astype(np.float32).astype(np.float64) for _ in range(3)]
    observed = []
    for grad in grads:
        state = impl.step(state, grad)
        held = (state.theta, state.m, state.v, state.v_max, state.slow)
        observed.append(tuple(None if x is None else x.astype(np.float64) for x in held))
    judged = both(observed, start, grads, hyper, conv, v_max, slow)
    assert judged[1].conforms
    assert_agree(*judged)


@pytest.mark.parametrize("hyper", [Hyper(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8),
                                   # rho_6 is inside the ambiguity band: both branches are tried
                                   Hyper(lr=1e-2, beta2=0.8397685748659791, weight_decay=0.1)],
                         ids=["fresh", "band"])
def test_block_by_block_gives_the_verdict_of_the_whole_tensor_bit_for_bit(hyper: Hyper) -> None:
    """The judge evaluates a large tensor in blocks of elements; a size that is no multiple
    of the block (a short last block) gives the same verdict, the same worst element and
    the same centres and bounds, bit for bit, as one block holding the whole tensor."""
    rng = np.random.default_rng(4)
    block = 1000
    n = 3 * block + 17
    theta0 = rng.standard_normal(n).astype(np.float32).astype(np.float64)
    grads = [rng.standard_normal(n).astype(np.float32).astype(np.float64) for _ in range(8)]
    impl = NumpyRAdam(hyper, PRESETS["pytorch"])
    state = impl.init(theta0.astype(np.float32))
    observed = []
    for k, grad in enumerate(grads):
        state = impl.step(state, grad.astype(np.float32))
        theta = state.theta.copy()
        if k == 5:  # off by a few ulps in the last block
            theta[n - 3] = (theta[n - 3].view(np.int32) + np.int32(40)).view(np.float32)
        observed.append(tuple(x.astype(np.float64) for x in (theta, state.m, state.v)))
    zeros = np.zeros(n)
    start = (theta0, zeros, zeros, 0)
    whole = judge_trajectory_fast(observed, start, grads, hyper, PRESETS["pytorch"], FLOAT32,
                                  block=n)
    blocks = judge_trajectory_fast(observed, start, grads, hyper, PRESETS["pytorch"], FLOAT32,
                                   block=block)
    assert blocks == whole
    assert blocks.worst is not None
    assert whole.worst is not None
    assert (whole.conforms, whole.worst.index) == (False, n - 3)
    for mine, theirs in ((blocks.worst.exact_all, whole.worst.exact_all),
                         (blocks.worst.bound_all, whole.worst.bound_all)):
        assert np.asarray(mine).tobytes() == np.asarray(theirs).tobytes()
    if hyper.weight_decay:
        assert whole.ambiguous_steps == (6,)


def test_a_centre_the_double_double_cannot_certify_is_judged_exactly() -> None:
    """A gradient whose square is just below the largest binary64 number: torch's float64
    step is finite and correct, the double-double square's partial products overflow, so
    the fast judge declines (UncertifiedError) and the suite's judge of a scenario falls
    back to the exact judge, which accepts it."""
    torch = pytest.importorskip("torch")
    from radam_verify.adapters import GroupSpec, load_adapter
    from radam_verify.suite import checks
    from radam_verify.suite.scenario import Scenario

    n = FAST_ABOVE + 1
    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    theta0 = np.linspace(-1.0, 1.0, n)
    grad = np.full(n, 0.5)
    grad[3] = np.nextafter(np.sqrt(np.finfo(np.float64).max), 0.0)
    assert np.isfinite(grad[3] * grad[3])
    param = torch.tensor(theta0, requires_grad=True)
    optimizer = torch.optim.RAdam([param], lr=hyper.lr, foreach=False)
    param.grad = torch.tensor(grad)
    optimizer.step()
    state = optimizer.state[param]
    observed = [(param.detach().numpy().copy(), state["exp_avg"].numpy().copy(),
                 state["exp_avg_sq"].numpy().copy())]
    zeros = np.zeros(n)
    with pytest.raises(UncertifiedError):
        judge_trajectory_fast(observed, (theta0, zeros, zeros, 0), [grad], hyper,
                              PRESETS["pytorch"], FLOAT64)
    exact = judge_trajectory(observed, ExactState.from_floats(theta0, zeros, zeros, 0), [grad],
                             hyper, PRESETS["pytorch"], FLOAT64)
    assert exact.conforms
    adapter = load_adapter("torch.optim:RAdam", {"foreach": False}, "cpu", "float64")
    outcome = checks.exact(adapter, Scenario((GroupSpec(hyper, (theta0,)),), (((grad,),),)),
                           PRESETS["pytorch"])
    assert outcome.conforms
    assert outcome.verdicts[0].judgement.worst is not None
    assert outcome.verdicts[0].judgement.worst.reference == "mpmath"


FUSED_SIZE = 100


@settings(max_examples=80, deadline=None)
@given(hyper=hypers(), convention=conventions(), fmt=st.sampled_from(["float32", "float64",
                                                                      "bfloat16", "float16"]),
       flushes=st.booleans(), t=st.one_of(st.integers(0, 12), st.integers(0, 10**6)),
       steps=st.integers(1, 3), lo=st.sampled_from([-8, -40, -300]),
       seed=st.integers(0, 2**32 - 1), damage=st.sampled_from(["none", "ulps", "nan", "no m"]),
       schedule=st.sampled_from(["textbook", "accurate"]))
def test_the_fused_evaluation_gives_the_error_models_own_numbers_bit_for_bit(
        hyper: Hyper, convention: Convention, fmt: str, flushes: bool, t: int, steps: int,
        lo: int, seed: int, damage: str, schedule: str) -> None:
    """A block of finite values is evaluated fused (every value the centre and both bounds
    share computed once), by numpy passes or, for binary32 implementations where numba is
    installed, by the compiled loop; any block can also be evaluated as the error model
    states it, element by element. Over the domain (every format, flushing platforms, conventions,
    fresh and late states, values from subnormal to large, observations off by ulps, NaN
    or unreadable), both give the same verdict, worst element, centres and bounds, bit for
    bit."""
    from radam_verify import fast_judge
    from radam_verify.floats import FORMATS

    rng = np.random.default_rng(seed)
    dtype = np.float64 if fmt == "float64" else np.float32
    lo = max(lo, -40) if dtype == np.float32 else lo
    tiny = float(np.finfo(dtype).smallest_subnormal)

    def values(hi: int) -> np.ndarray:
        out = rng.choice([-1.0, 1.0], FUSED_SIZE) * 10.0 ** rng.uniform(lo, hi, FUSED_SIZE)
        out[rng.random(FUSED_SIZE) < 0.1] = 0.0
        out[rng.random(FUSED_SIZE) < 0.1] = tiny * rng.integers(1, 1000)
        return out.astype(dtype)

    impl = NumpyRAdam(hyper, convention, dtype=dtype)
    theta = values(2)
    m, v = (values(1), np.abs(values(2))) if t else (np.zeros(FUSED_SIZE, dtype),) * 2
    grads = [values(2) for _ in range(steps)]
    state = impl.state_at(theta, m, v, t)
    start = tuple(x.astype(np.float64) for x in (state.theta, state.m, state.v))
    observed = []
    for grad in grads:
        state = impl.step(state, grad)
        seen: list[np.ndarray | None] = [x.astype(np.float64) for x in (state.theta, state.m,
                                                                      state.v)]
        if damage == "ulps":
            seen[0] = np.nextafter(seen[0], np.inf)  # type: ignore[arg-type]
        elif damage == "nan":
            seen[0][int(rng.integers(FUSED_SIZE))] = np.nan  # type: ignore[index]
        elif damage == "no m":
            seen[1] = None
        observed.append(tuple(seen))
    format_ = FORMATS[fmt].flushing() if flushes else FORMATS[fmt]
    arguments = (observed, (*start, t), [g.astype(np.float64) for g in grads], hyper,
                 convention, format_)

    def judged(evaluation: str) -> Judgement | str:
        try:
            with pytest.MonkeyPatch.context() as patch:
                if evaluation != "compiled":
                    patch.setattr(fast_judge, "_compiled_block", lambda *_: None)
                if evaluation == "reference":
                    patch.setattr(fast_judge, "_fused_block", lambda *_: None)
                return judge_trajectory_fast(*arguments, schedule=schedule)  # type: ignore[arg-type]
        except (OutOfDomainError, UncertifiedError) as error:
            return type(error).__name__

    reference = judged("reference")
    for evaluation in ("numpy", "compiled"):
        fused = judged(evaluation)
        assert repr(fused) == repr(reference)  # (an observed NaN is unequal to itself)
        if isinstance(fused, Judgement) and isinstance(reference, Judgement) and fused.worst:
            assert reference.worst is not None
            for mine, theirs in ((fused.worst.exact_all, reference.worst.exact_all),
                                 (fused.worst.bound_all, reference.worst.bound_all),
                                 (fused.worst.exact_low, reference.worst.exact_low)):
                assert np.asarray(mine).tobytes() == np.asarray(theirs).tobytes()


@st.composite
def _tiny_sums(draw: st.DrawFn) -> tuple[float, float, float]:
    """(acc, c, y) for acc + c y: acc a bound (0 to inf, subnormal included, NaN), c a small
    scalar (binary64's eta and its small multiples, binary32's, subnormal to normal) or any
    binary64 number, y any binary64 number or one of either sign just below and above the
    loop's threshold |y| = acc room(c) (acc a power of two included)."""
    from radam_verify import fused_kernel

    eta = 2.0**-1074
    acc = draw(st.one_of(st.floats(min_value=0.0), st.floats(0.0, 2.0**-1000),
                         st.sampled_from([0.0, 2.0**-1017, 2.0**-1018, 2.0**-1022, math.inf,
                                          math.nan])))
    c = draw(st.one_of(st.sampled_from([eta, 3 * eta, 4 * eta, 40 * eta, 2.0**-149,
                                        5 * 2.0**-149, 0.0]),
                       st.floats(0.0, 2.0**-1000), st.floats(0.0, 1e-30), st.floats()))
    threshold = acc * fused_kernel.room(c)
    y = draw(st.one_of(st.floats(), st.floats(min_value=0.0).map(lambda f: -f),
                       st.floats(0.5, 2.0).map(lambda f: threshold * f),
                       st.floats(0.5, 2.0).map(lambda f: -threshold * f),
                       st.just(math.nextafter(threshold, 0.0)), st.just(threshold),
                       st.just(-math.nextafter(threshold, 0.0))))
    return acc, c, y


@settings(max_examples=2000, deadline=None)
@given(_tiny_sums())
def test_a_tiny_product_the_compiled_loop_leaves_out_would_not_change_its_sum(
        case: tuple[float, float, float]) -> None:
    """The compiled loop adds c y to a bound as 0 y where the product, often subnormal (and
    then about 50 times as slow as a normal one on CPUs that take a microcode assist for
    it), cannot change the sum: whatever acc, c and y (zero, subnormal, at the threshold,
    infinite, NaN), the sum it forms has the bits of acc + c y."""
    import struct

    from radam_verify import fused_kernel

    acc, c, y = case
    got = fused_kernel._plus_tiny(acc, c, fused_kernel.room(c), y)
    want = acc + c * y
    assert (math.isnan(got) and math.isnan(want)) or (
        struct.pack("<d", got) == struct.pack("<d", want)), (acc, c, y, got, want)


def test_the_compiled_loop_judges_binary32_blocks_with_the_numpy_paths_numbers() -> None:
    """Where numba is installed, a float32 implementation's blocks are judged by the
    compiled loop (it does not decline a block of ordinary values, so the comparison above
    exercises it), and what it writes (centres, bounds) and finds (worst element, errors in
    ulps) are the numpy fused path's, bit for bit, on rectified and SGD steps, with
    decoupled and L2 weight decay, and with a constant inside the root (eps_root)."""
    pytest.importorskip("numba")
    from radam_verify import fast_judge

    rng = np.random.default_rng(7)
    n = 5000
    for hyper, convention in ((Hyper(lr=1e-2, beta2=0.99, weight_decay=0.1), "pytorch"),
                              (Hyper(lr=1e-3, weight_decay=0.01, maximize=True), "adamw"),
                              (Hyper(lr=1e-3), "optax-adam,eps_root=0.01")):
        reading = parse_convention(convention)
        impl = NumpyRAdam(hyper, reading)
        theta = rng.standard_normal(n).astype(np.float32)
        state = impl.state_at(theta, rng.standard_normal(n).astype(np.float32) * 0.1,
                              np.abs(rng.standard_normal(n)).astype(np.float32), 5)
        start = tuple(x.astype(np.float64) for x in (state.theta, state.m, state.v))
        grads = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
        observed = []
        for grad in grads:
            state = impl.step(state, grad)
            observed.append(tuple(x.astype(np.float64) for x in (state.theta, state.m,
                                                                   state.v)))
        calls: list[bool] = []

        def counted(*args: object, calls: list[bool] = calls,
                    compiled_block: object = fast_judge._compiled_block) -> object:
            out = compiled_block(*args)  # type: ignore[operator]
            calls.append(out is not None)
            return out

        arguments = (observed, (*start, 5), [g.astype(np.float64) for g in grads], hyper,
                     reading, FLOAT32)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fast_judge, "_compiled_block", counted)
            compiled = judge_trajectory_fast(*arguments, block=1024)  # type: ignore[arg-type]
            patch.setattr(fast_judge, "_compiled_block", lambda *_: None)
            numpy_path = judge_trajectory_fast(*arguments, block=1024)  # type: ignore[arg-type]
        assert calls
        assert all(calls)
        assert compiled == numpy_path
        assert compiled.worst is not None
        assert numpy_path.worst is not None
        for mine, theirs in ((compiled.worst.exact_all, numpy_path.worst.exact_all),
                             (compiled.worst.bound_all, numpy_path.worst.bound_all)):
            assert np.asarray(mine).tobytes() == np.asarray(theirs).tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", [None, 3])
def test_steps_without_a_gradient_are_judged_fast_as_the_exact_judge_judges_them(
        bad: int | None, dtype: str) -> None:
    """torch.optim.RAdam skips a tensor whose gradient is None: its state stays as it was
    and its step count does not advance (float32 around a binary64 centre, float64 around a
    double-double one). Over a trajectory with such steps (before, between
    and after steps with a gradient, across the threshold), the fast judge and the exact
    judge give the same verdict and ratio; an element off after two skipped steps
    (2^14 ulps) is found at that element, on that step."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    n = FAST_ABOVE + 36
    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1)
    theta0 = rng.standard_normal(n).astype(np.float32).astype(np.float64)
    grads: list[np.ndarray | None] = [
        None if k in (0, 3, 4, 9) else rng.standard_normal(n).astype(np.float32).astype(np.float64)
        for k in range(11)]
    kind, bits, fmt = ((torch.float32, np.int32, FLOAT32) if dtype == "float32"
                       else (torch.float64, np.int64, FLOAT64))
    param = torch.tensor(theta0, dtype=kind, requires_grad=True)
    optimizer = torch.optim.RAdam([param], lr=hyper.lr, betas=(hyper.beta1, hyper.beta2),
                                  eps=hyper.eps, weight_decay=hyper.weight_decay, foreach=False)
    observed: list[tuple[np.ndarray | None, ...]] = []
    for k, grad in enumerate(grads):
        param.grad = None if grad is None else torch.tensor(grad, dtype=kind)
        optimizer.step()
        theta = param.detach().numpy().copy()
        if bad is not None and k == 5:  # the step after two skipped ones
            theta[bad] = (theta[bad].view(bits) + bits(1 << 14)).view(theta.dtype)
        state = optimizer.state.get(param, {})
        observed.append(tuple(None if name not in state
                              else state[name].numpy().astype(np.float64)
                              for name in ("exp_avg", "exp_avg_sq")))
        observed[-1] = (theta.astype(np.float64), *observed[-1])
    zeros = np.zeros(n)
    fast = judge_trajectory_fast(observed, (theta0, zeros, zeros, 0), grads, hyper,
                                 PRESETS["pytorch"], fmt)
    exact = judge_trajectory(observed, ExactState.from_floats(theta0, zeros, zeros, 0), grads,
                             hyper, PRESETS["pytorch"], fmt)
    assert_agree(fast, exact)
    assert fast.conforms == (bad is None)
    if bad is not None:
        assert fast.worst is not None
        assert exact.worst is not None
        # the sixth call is the third step with a gradient
        assert (fast.worst.t, fast.worst.index) == (exact.worst.t, bad) == (3, bad)
