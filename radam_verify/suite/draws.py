"""Hypothesis strategies for whole scenarios, within what the implementation accepts.

Hyperparameters cover the domain (lr in (0, 10], b1 in [0, 1), b2 in (0, 1) with values
within 1e-5 of 1 and below 2/3, eps in [0, 0.1] with 0, weight decay in [0, 1]); every
array is rounded to the implementation's dtype before use, so the exact reference sees
exactly what the implementation receives.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache

import numpy as np
from hypothesis import strategies as st

from radam_verify.adapters import GroupSpec, ParamState
from radam_verify.floats import FORMATS
from radam_verify.hyper import Hyper
from radam_verify.precision import real
from radam_verify.strategies import arrays, hypers, log_uniform, magnitudes
from radam_verify.suite.scenario import Grads, Scenario
from radam_verify.suite.target import Target
from radam_verify.views import Placement, kinds_for, strided

#: above this many gradient values per trajectory, values come from a drawn seed
ELEMENTWISE_LIMIT = 160


@cache  # one strategy object per target and flags (see _tensor)
def hyper_for(target: Target, *, weight_decay: bool | None = None,
              maximize: bool | None = None) -> st.SearchStrategy[Hyper]:
    """Hyperparameters the implementation accepts under its convention.

    ``weight_decay``/``maximize``: None draws both ways where supported, True forces it.
    """
    caps = target.adapter.capabilities
    decays = caps.weight_decay and target.convention.weight_decay != "none"
    base = hypers(weight_decay=decays and weight_decay is not False)
    if weight_decay:
        base = st.builds(lambda h, wd: replace(h, weight_decay=wd), base, log_uniform(-4, 0))
    if caps.maximize_fixed is not None:  # the constructor keywords decide for every group
        return base.map(lambda h: replace(h, maximize=bool(caps.maximize_fixed)))
    if maximize or not caps.maximize:
        base = base.map(lambda h: replace(h, maximize=bool(maximize and caps.maximize)))
    return base


def _typed(target: Target, values: np.ndarray) -> np.ndarray:
    return target.adapter.to_format(values).astype(np.float64)


def tensor(target: Target, lo_exp: int = -6, hi_exp: int = 3,
           size: int | None = None) -> st.SearchStrategy[np.ndarray]:
    """One parameter (or gradient) tensor: magnitudes over decades, zeros, subnormals."""
    return _tensor(target, lo_exp, hi_exp, size or target.profile.size)


@cache  # one strategy object per shape: Hypothesis validates each new object when drawn
def _tensor(target: Target, lo_exp: int, hi_exp: int, size: int) -> st.SearchStrategy[np.ndarray]:
    return arrays(target.adapter.fmt.numpy_type, size, lo_exp, hi_exp).map(
        lambda a: _typed(target, a))


@st.composite
def gradient_steps(draw: st.DrawFn, target: Target, shapes: list[tuple[int, ...]], steps: int,
                   missing: bool = False) -> list[list[np.ndarray | None]]:
    """``steps`` gradients for tensors of ``shapes``; None sometimes where ``missing``."""
    sizes = [math.prod(shape) for shape in shapes]
    total = steps * sum(sizes)
    if total <= ELEMENTWISE_LIMIT:
        out = []
        for _ in range(steps):
            row: list[np.ndarray | None] = []
            for shape, size in zip(shapes, sizes, strict=True):
                absent = missing and draw(st.integers(0, 4)) == 0
                row.append(None if absent else draw(tensor(target, -6, 2, size)).reshape(shape))
            out.append(row)
        return out
    # long trajectories: a drawn recipe, expanded by numpy (shrinks by seed and range)
    seed = draw(st.integers(0, 2**32 - 1))
    lo = draw(st.integers(-10, 0))
    hi = draw(st.integers(lo, 3))
    p_zero = draw(st.sampled_from([0.0, 0.05, 0.3]))
    p_flip = draw(st.sampled_from([0.0, 0.5, 1.0]))
    rng = np.random.default_rng(seed)
    tiny = target.adapter.fmt.smallest_subnormal
    sign = 1.0
    long_out: list[list[np.ndarray | None]] = []
    for _ in range(steps):
        if rng.random() < p_flip:
            sign = -sign
        row = []
        for shape, size in zip(shapes, sizes, strict=True):
            if missing and rng.random() < 0.1:
                row.append(None)
                continue
            values = sign * rng.choice([-1.0, 1.0], size, p=[0.3, 0.7]) * 10.0 ** rng.uniform(lo, hi, size)
            values[rng.random(size) < p_zero] = 0.0
            values[rng.random(size) < 0.02] = tiny * rng.integers(1, 100)
            row.append(_typed(target, values).reshape(shape))
        long_out.append(row)
    return long_out


@st.composite
def param(draw: st.DrawFn, target: Target, lo_exp: int, hi_exp: int, steps: int,
          tensors: int = 1) -> np.ndarray:
    """A parameter tensor for an example of ``steps`` steps over ``tensors`` such tensors:
    usually the profile's small flat tensor, drawn element by element; one time in three a
    shape from :func:`shapes_for` (0-d, one element, vector widths and their tails,
    multi-dimensional, thousands, and in ci and thorough above torch's thread grain), as
    large as the profile's element-step budget allows (``SuiteProfile.element_steps``), so
    every numerical property reaches the code paths real sizes take. Shrinks towards the
    small tensor, then towards the smallest shape that still fails."""
    if draw(st.integers(0, 2)) < 2:
        return draw(tensor(target, lo_exp, hi_exp))
    largest = target.profile.element_steps // max(1, steps * tensors)
    if target.adapter.state_layout.debiased:  # every element judged by mpmath
        largest = min(largest, EXACTLY_JUDGED_LARGEST)
    return draw(like(target, draw(_shapes_within(target, largest)), lo_exp, hi_exp))


#: the largest tensor :func:`param` draws where the fast judge does not apply (a layout of
#: bias-corrected moments, radam_verify.suite.scenario._fast) and mpmath judges every element
EXACTLY_JUDGED_LARGEST = 1000


@cache
def _shapes_within(target: Target, largest: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.sampled_from([s for s in shapes_for(target) if math.prod(s) <= max(largest, 1)])


@cache  # one strategy object per shape and range
def like(target: Target, shape: tuple[int, ...], lo_exp: int,
         hi_exp: int) -> st.SearchStrategy[np.ndarray]:
    """A tensor of ``shape``: drawn element by element up to the profile's small size,
    else by :func:`values` (a drawn background and a few drawn elements)."""
    size = math.prod(shape)
    if size <= target.profile.size:
        return tensor(target, lo_exp, hi_exp, size).map(lambda a: a.reshape(shape))
    return values(target, shape, lo_exp, hi_exp)


def _steps(grads: list[list[np.ndarray | None]]) -> tuple[Grads, ...]:
    """One group's per-step gradients as ``steps[k][group][param]``."""
    return tuple((tuple(row),) for row in grads)


@st.composite
def trajectory(draw: st.DrawFn, target: Target, *, min_steps: int = 2, max_steps: int | None = None,
               hyper: st.SearchStrategy[Hyper] | None = None, path: str | None = None) -> Scenario:
    """One group with one tensor from a fresh state, for several to hundreds of steps."""
    h = draw(hyper if hyper is not None else hyper_for(target))
    steps = draw(st.integers(min_steps, max(min_steps, max_steps or target.profile.max_steps)))
    theta0 = draw(param(target, -6, 3, steps))
    grads = draw(gradient_steps(target, [theta0.shape], steps))
    return Scenario((GroupSpec(h, (theta0,)),), _steps(grads), path=path)


@st.composite
def retuned(draw: st.DrawFn, target: Target) -> Scenario:
    """A trajectory whose group's hyperparameters a schedule sets anew before its last
    step, and in some examples once before that too: each time some of lr, beta1, beta2,
    eps and weight decay (a scheduler usually sets one or two), the others as they were;
    maximize stays."""
    scenario = draw(trajectory(target, min_steps=2, max_steps=8))
    last = len(scenario.steps) - 1
    befores = sorted({last, *draw(st.lists(st.integers(1, last), max_size=1))})
    hyper, changes = scenario.groups[0].hyper, []
    for k in befores:
        drawn = draw(hyper_for(target))
        names = draw(st.sets(st.sampled_from(_SCHEDULED), min_size=1))
        hyper = replace(hyper, **{name: getattr(drawn, name) for name in sorted(names)})
        changes.append((k, (hyper,)))
    return replace(scenario, retuned=tuple(changes))


#: the hyperparameters a schedule may set between steps
_SCHEDULED = ("lr", "beta1", "beta2", "eps", "weight_decay")


@st.composite
def injected_step(draw: st.DrawFn, target: Target, steps: int = 1,
                  hyper: st.SearchStrategy[Hyper] | None = None) -> Scenario:
    """A step from an arbitrary state (theta, m, v >= 0) at any step count t up to 10^7."""
    h = draw(hyper if hyper is not None else hyper_for(target))
    t = draw(st.one_of(st.integers(0, 12), st.integers(0, 10**7)))
    theta = draw(param(target, -8, 4, steps))
    m = draw(like(target, theta.shape, -8, 1))
    v = np.abs(draw(like(target, theta.shape, -12, 2)))
    grads = draw(gradient_steps(target, [theta.shape], steps))
    start = ((ParamState(theta, m, v, t),),)
    return Scenario((GroupSpec(h, (theta,)),), _steps(grads), start=start)


@cache
def beta2_at_threshold(t: int, threshold: float) -> float:
    """The binary64 b2 nearest the one where the exact rho_t equals ``threshold`` (t > threshold).

    rho_t increases with b2 from 1 (b2 -> 0) towards t (b2 -> 1), so bisection finds it.
    """
    with real.workprec(96):
        lo, hi = real.mpf(0), real.mpf(1)
        for _ in range(90):
            mid = (lo + hi) / 2
            p = mid**t
            rho = 2 / (1 - mid) - 1 - 2 * t * p / (1 - p)
            lo, hi = (mid, hi) if rho < threshold else (lo, mid)
        return float(lo)


def _shift_ulps(value: float, k: int) -> float:
    bits = np.array([value], dtype=np.float64).view(np.int64)
    return float((bits + k).view(np.float64)[0])


@st.composite
def threshold_regime(draw: st.DrawFn, target: Target) -> tuple[Scenario, float]:
    """Steps around the switch, with b2 chosen so that rho_t lies very close to the threshold.

    Returns the scenario and the distance |rho_t - threshold| at the switching step.
    """
    threshold = target.convention.threshold
    t_switch = draw(st.integers(math.floor(threshold) + 1, max(math.floor(threshold) + 2, 40)))
    offset = draw(st.one_of(st.integers(-4, 4), st.integers(-(2**20), 2**20)))
    beta2 = _shift_ulps(beta2_at_threshold(t_switch, threshold), offset)
    h = replace(draw(hyper_for(target)), beta2=beta2)
    with real.workprec(96):
        p = real.mpf(beta2)**t_switch
        rho = 2 / (1 - real.mpf(beta2)) - 1 - 2 * t_switch * p / (1 - p)
        distance = float(abs(rho - threshold))
    steps = t_switch + draw(st.integers(0, 2))
    theta0 = draw(param(target, -6, 3, steps))
    grads = draw(gradient_steps(target, [theta0.shape], steps))
    return Scenario((GroupSpec(h, (theta0,)),), _steps(grads)), distance


@st.composite
def late_regime(draw: st.DrawFn, target: Target) -> Scenario:
    """r_t and the bias corrections near 1: a state injected at t up to 10^7, or a long run."""
    if target.adapter.capabilities.inject_state:
        h = draw(hyper_for(target))
        b2 = draw(st.one_of(st.sampled_from([0.9, 0.99, 0.999, 0.9999]),
                            log_uniform(-5, -1).map(lambda d: 1.0 - d)))
        h = replace(h, beta2=b2)
        t = draw(st.integers(10**3, 10**7))
        g_scale = draw(log_uniform(-6, 1))
        steps = draw(st.integers(1, 4))
        theta = draw(param(target, -4, 3, steps))
        m = _typed(target, draw(like(target, theta.shape, -1, 0)) * g_scale)
        v = _typed(target, np.abs(draw(like(target, theta.shape, -1, 0))) * g_scale**2)
        grads = draw(gradient_steps(target, [theta.shape], steps))
        start = ((ParamState(theta, m, v, t),),)
        return Scenario((GroupSpec(h, (theta,)),), _steps(grads), start=start)
    steps = target.profile.long_run
    largest = math.exp(math.log(1e-6) / steps)  # b2^steps < 1e-6: the corrections reach 1
    h = replace(draw(hyper_for(target)), beta2=draw(st.floats(0.67, largest)))
    theta0 = draw(param(target, -3, 3, steps))
    grads = draw(gradient_steps(target, [theta0.shape], steps))
    return Scenario((GroupSpec(h, (theta0,)),), _steps(grads))


@st.composite
def groups_scenario(draw: st.DrawFn, target: Target) -> Scenario:
    """Several groups with their own hyperparameters, a group added later, missing gradients."""
    caps = target.adapter.capabilities
    n_groups = draw(st.integers(2, 3))
    steps = draw(st.integers(2, min(12, max(2, target.profile.max_steps))))

    def params() -> tuple[np.ndarray, ...]:  # at most 7 tensors share the element budget
        return tuple(draw(param(target, -6, 3, steps, tensors=7))
                     for _ in range(draw(st.integers(1, 2))))

    groups = [GroupSpec(draw(hyper_for(target)), params()) for _ in range(n_groups)]
    if not caps.maximize_per_group:  # one constructor argument: every group shares it
        groups = [replace(g, hyper=replace(g.hyper, maximize=groups[0].hyper.maximize))
                  for g in groups]
    added: list[tuple[int, GroupSpec]] = []
    if caps.add_group and draw(st.booleans()):
        at = draw(st.integers(1, steps - 1))
        hyper = draw(hyper_for(target))
        if not caps.maximize_per_group:
            hyper = replace(hyper, maximize=groups[0].hyper.maximize)
        added.append((at, GroupSpec(hyper, (draw(param(target, -6, 3, steps, tensors=7)),))))
    shapes = [[p.shape for p in g.params] for g in [*groups, *(g for _, g in added)]]
    flat = [s for group_shapes in shapes for s in group_shapes]
    grads = draw(gradient_steps(target, flat, steps, missing=caps.missing_grads))
    out = []
    for k, row in enumerate(grads):
        present = len(groups) + sum(1 for at, _ in added if at <= k)
        per_group, i = [], 0
        for group_shapes in shapes[:present]:
            per_group.append(tuple(row[i:i + len(group_shapes)]))
            i += len(group_shapes)
        out.append(tuple(per_group))
    return Scenario(tuple(groups), tuple(out), added=tuple(added))


#: the real dtypes a group may mix (``GroupSpec.dtypes``)
REAL_DTYPES = ("float32", "float64", "bfloat16", "float16")


def rounded_to(dtype: str, values: np.ndarray) -> np.ndarray:
    """``values`` rounded to ``dtype``'s format, as float64 (what a tensor of it holds)."""
    return np.asarray(values, dtype=np.float64).astype(FORMATS[dtype].numpy_type).astype(np.float64)


@st.composite
def mixed(draw: st.DrawFn, target: Target, path: str | None = None) -> Scenario:
    """One group of two or three tensors from a fresh state, one of them (at a drawn
    position) of another real dtype than the implementation's, for one to twelve steps on
    code path ``path``; every value rounded to its own tensor's format."""
    h = draw(hyper_for(target))
    steps = draw(st.integers(1, min(12, max(1, target.profile.max_steps))))
    own = target.adapter.fmt.name
    other = draw(st.sampled_from([d for d in REAL_DTYPES if d != own]))
    n = draw(st.integers(2, 3))
    at = draw(st.integers(0, n - 1))
    dtypes = tuple(other if i == at else own for i in range(n))
    params = tuple(rounded_to(d, draw(param(target, -6, 3, steps, tensors=n))) for d in dtypes)
    grads = draw(gradient_steps(target, [p.shape for p in params], steps))
    rows = tuple(tuple(None if g is None else rounded_to(d, g)
                       for g, d in zip(row, dtypes, strict=True)) for row in grads)
    return Scenario((GroupSpec(h, params, dtypes=dtypes),), tuple((row,) for row in rows),
                    path=path)


#: shapes where kernels change code path, smallest first (Hypothesis shrinks towards the
#: first): a 0-d tensor, one element, sizes around 8- and 16-lane vector bodies and their
#: scalar tails, multi-dimensional shapes, hundreds and thousands of elements
SHAPES: tuple[tuple[int, ...], ...] = (
    (), (1,), (7,), (8,), (9,), (15,), (16,), (17,), (3, 11), (31,), (32,), (33,), (63,),
    (65,), (2, 3, 5, 7), (127,), (129,), (255,), (257,), (1000,), (31, 33), (4097,),
    (8, 3, 17, 19),
)
#: above torch's 32,768-element grain (work split across threads) up to about 10^6
#: elements: the ci and thorough profiles only
LARGE_SHAPES: tuple[tuple[int, ...], ...] = ((32769,), (65537,), (256, 257), (1048577,))


def shapes_for(target: Target) -> tuple[tuple[int, ...], ...]:
    """The shapes a property draws for ``target``'s profile and format (complex parameters,
    stepped as consecutive pairs of reals, take the same numbers of reals as flat tensors)."""
    shapes = SHAPES + (LARGE_SHAPES if target.profile.name != "quick" else ())
    if getattr(target.adapter, "complex_params", False):
        shapes = tuple(dict.fromkeys((math.prod(s),) for s in shapes))
    return shapes


@st.composite
def values(draw: st.DrawFn, target: Target, shape: tuple[int, ...], lo_exp: int,
           hi_exp: int) -> np.ndarray:
    """A tensor of ``shape`` in the implementation's format: a background expanded by numpy
    from a drawn recipe (magnitudes over decades of both signs, some zeros and subnormals)
    and up to three elements drawn one by one at drawn positions.

    The drawn elements keep their position modulo the size, so when Hypothesis shrinks the
    shape a failure caused by one value stays: an elementwise defect shrinks to one
    element, a defect of a kernel's tail to the smallest shape with that tail. The
    background shrinks to +-1.
    """
    size = math.prod(shape)
    seed = draw(st.integers(0, 2**32 - 1))
    lo = draw(st.integers(lo_exp, hi_exp))
    hi = draw(st.integers(lo, hi_exp))
    p_zero, p_tiny = draw(_FRACTIONS), draw(_FRACTIONS)
    special = magnitudes(target.adapter.fmt.numpy_type, lo_exp, hi_exp)
    specials = draw(st.lists(st.tuples(st.integers(0, 2**24), special), max_size=3))
    # one stream per attribute, each read from its start: element i's background is the
    # same in every shape with more than i elements, so shrinking the shape keeps it
    sign, magnitude, zero, small, tiny_k = (np.random.default_rng([seed, k]).random(size)
                                            for k in range(5))
    tiny = target.adapter.fmt.smallest_subnormal
    out = np.where(sign < 0.5, -1.0, 1.0) * 10.0 ** (lo + (hi - lo) * magnitude)
    out[zero < p_zero] = 0.0
    out[small < p_tiny] = tiny * np.floor(1 + 99 * tiny_k[small < p_tiny])
    for position, value in specials:
        out[position % size] = value
    return _typed(target, out).reshape(shape)


_FRACTIONS = st.sampled_from([0.0, 0.01, 0.1])


@cache
def _shape_lists(shapes: tuple[tuple[int, ...], ...]) -> st.SearchStrategy[list[tuple[int, ...]]]:
    return st.lists(st.sampled_from(shapes), min_size=1, max_size=3, unique=True)


#: the largest tensor the views property places (above the thread grain, below 10^6)
PLACED_LARGEST = 70_000


@cache
def placement(shape: tuple[int, ...]) -> st.SearchStrategy[Placement]:
    """Where a parameter of ``shape`` lies (a view kind, its step, the canaries before and
    after it) and where its gradients lie (another view kind, without canaries); both
    shrink towards a contiguous tensor."""
    kinds = st.sampled_from(kinds_for(shape))

    def build(kind: str, step: int, offset: int, gap: int, grad_kind: str,
              grad_step: int) -> Placement:
        return Placement(strided(kind, shape, step=step, offset=offset, gap=gap),
                         strided(grad_kind, shape, step=grad_step))

    return st.builds(build, kinds, st.integers(2, 3), st.integers(0, 3), st.integers(0, 3),
                     kinds, st.integers(2, 3))


@st.composite
def placed(draw: st.DrawFn, target: Target, path: str | None = None) -> Scenario:
    """A :func:`sized` scenario (shapes up to :data:`PLACED_LARGEST` elements) whose
    parameters are strided views into larger storages with canaries around them
    (:mod:`radam_verify.views`), and whose gradients have strides of their own."""
    shapes = tuple(s for s in shapes_for(target) if math.prod(s) <= PLACED_LARGEST)
    scenario = draw(sized(target, path=path, among=shapes))
    group = scenario.groups[0]
    placements = tuple(draw(placement(np.shape(p))) for p in group.params)
    return replace(scenario, groups=(replace(group, placements=placements),))


@st.composite
def sized(draw: st.DrawFn, target: Target, path: str | None = None,
          among: tuple[tuple[int, ...], ...] | None = None) -> Scenario:
    """One group of one to three tensors of different shapes from :data:`SHAPES` (and, in
    ci and thorough, :data:`LARGE_SHAPES`), from a fresh state or (where the implementation
    takes one) a state injected at any step count up to 10^6, for one to four steps (two
    where a tensor is large). ``among``: the shapes to draw from (default: all of them)."""
    h = draw(hyper_for(target))
    shapes = draw(_shape_lists(among or shapes_for(target)))
    large = max(math.prod(shape) for shape in shapes) >= LARGE_SHAPES[0][0]
    steps = draw(st.integers(1, 2 if large else 4))
    params = tuple(draw(values(target, shape, -6, 3)) for shape in shapes)
    start = None
    if target.adapter.capabilities.inject_state and draw(st.booleans()):
        # a state at any step count, so that few steps reach the rectified branch
        t = draw(st.one_of(st.integers(0, 12), st.integers(0, 10**6)))
        start = ((tuple(ParamState(theta, draw(values(target, theta.shape, -8, 1)),
                                   np.abs(draw(values(target, theta.shape, -12, 2))), t)
                        for theta in params)),)
    grads = [tuple(draw(values(target, shape, -6, 2)) for shape in shapes) for _ in range(steps)]
    return Scenario((GroupSpec(h, params),), tuple((row,) for row in grads), start=start,
                    path=path)
