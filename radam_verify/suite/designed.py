"""Designed examples: cases every verdict runs first, whatever its seed draws.

A defect that shows only in a corner of the domain is found by the drawn examples only when
they happen to reach that corner; with the few examples of the quick profile that is luck
(``benchmarks/catalogue_seeds.py`` measures it). A designed example reaches the corner by
construction and runs before the drawn ones (Hypothesis' explicit examples), so every
verdict, at every seed, looks there:

* :func:`crossing` (shapes property): tensors of 17, 1000 and 4097 elements (a one-element
  tail after 8- and 16-lane vector bodies; several blocks and a partial chunk; a
  one-element last chunk after 2048- and 4096-element chunks) stepped across the
  first rectified step at the default hyperparameters, where r_t is smallest and an update
  that drops or misplaces it is furthest from the exact one: from a state injected one step
  before it, or from a fresh state for as many steps where the state cannot be injected;
* :func:`crossing_placed` (views property): the same, with each parameter a strided view
  and each gradient laid out by other strides than its parameter, the parameter or the
  gradient or both not contiguous (a kernel that assumes either contiguous reads or
  writes the wrong elements);
* :func:`narrow_first` (mixed-dtypes property): a group whose first tensor is of a narrower
  format than the implementation's and the others of its own, stepped a few times (a kernel
  that takes a group's dtype from its first tensor rounds the others to it);
* :func:`frozen_sparse` (scalars property): lr = 0 (a frozen phase) with every third
  element's gradients exactly zero, two steps from a fresh state: theta must not move, and
  an implementation that divides by the step size (0) turns those elements into NaN;
* :func:`beta2_schedule` (hyperparameters property): beta2 set anew before the second and
  the third step (0.999, 0.99, 0.9), as a schedule of the betas sets it: an implementation
  that keeps a constant formed from an earlier beta2 (1 - beta2 compiled in, a cached
  schedule) steps with it.

Their values are fixed (a seeded recipe, rounded to the implementation's format), so the
counterexample a designed example gives is the same in every run.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from radam_verify.adapters import GroupSpec, ParamState
from radam_verify.hyper import Hyper
from radam_verify.schedule import first_rectified_step
from radam_verify.suite.scenario import Scenario
from radam_verify.suite.target import Target
from radam_verify.views import Placement, strided

#: a one-element tail after 8- and 16-lane bodies; several such blocks and a partial chunk
SHAPES: tuple[tuple[int, ...], ...] = ((17,), (1000,))
#: :func:`crossing`'s tensors: :data:`SHAPES` and one with a one-element last chunk after
#: 2048- and 4096-element chunks (judged by the fast reference)
CROSSING_SHAPES: tuple[tuple[int, ...], ...] = (*SHAPES, (4097,))
#: where each parameter and its gradient lie in :func:`crossing_placed`: a parameter inside
#: canaries read through a strided gradient, a strided parameter with a contiguous one, and
#: a strided parameter with a gradient of other strides
PLACEMENTS: tuple[tuple[tuple[str, dict[str, int]], tuple[str, dict[str, int]]], ...] = (
    (("inside", {"offset": 1, "gap": 1}), ("every-k", {"step": 2})),
    (("every-k", {"step": 3, "offset": 2, "gap": 2}), ("inside", {})),
    (("every-k", {"step": 2, "offset": 1, "gap": 1}), ("every-k", {"step": 3})),
)


def _values(target: Target, shape: tuple[int, ...], lo_exp: float, hi_exp: float,
            stream: int) -> np.ndarray:
    """Values of both signs, log-uniform in [10^lo_exp, 10^hi_exp], in the target's format."""
    size = math.prod(shape)
    rng = np.random.default_rng([2020, stream])
    out = np.where(rng.random(size) < 0.5, -1.0, 1.0) * 10.0 ** rng.uniform(lo_exp, hi_exp, size)
    return target.adapter.to_format(out).astype(np.float64).reshape(shape)


def _hyper(target: Target) -> Hyper:
    """The default hyperparameters, with maximize as the implementation takes it."""
    fixed = target.adapter.capabilities.maximize_fixed
    return Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 maximize=bool(fixed) if fixed is not None else False)


def crossing(target: Target, path: str | None = None) -> Scenario:
    """Tensors of :data:`CROSSING_SHAPES` stepped across the first rectified step (module
    docstring)."""
    hyper = _hyper(target)
    first = first_rectified_step(hyper.beta2, target.convention)
    assert first is not None  # rho_inf = 1999 at beta2 = 0.999
    params = tuple(_values(target, shape, -3, -2, k) for k, shape in enumerate(CROSSING_SHAPES))
    start = None
    if target.adapter.capabilities.inject_state:
        start = ((tuple(ParamState(theta, _values(target, theta.shape, -3, -2, 10 + k),
                                   np.abs(_values(target, theta.shape, -6, -4, 20 + k)), first - 1)
                        for k, theta in enumerate(params))),)
        steps = 2
    else:
        steps = first + 1
    grads = tuple((tuple(_values(target, shape, -3, -1, 100 + 10 * i + k)
                         for k, shape in enumerate(CROSSING_SHAPES)),) for i in range(steps))
    return Scenario((GroupSpec(hyper, params),), grads, start=start, path=path)


def crossing_placed(target: Target, path: str | None = None) -> Scenario:
    """:func:`crossing` with its parameters and gradients placed as :data:`PLACEMENTS` say."""
    scenario = crossing(target, path)
    group = scenario.groups[0]
    placements = tuple(Placement(strided(param_kind, shape, **param_where),
                                 strided(grad_kind, shape, **grad_where))
                       for shape, ((param_kind, param_where), (grad_kind, grad_where))
                       in zip(CROSSING_SHAPES, PLACEMENTS, strict=True))
    return replace(scenario, groups=(replace(group, placements=placements),))


#: the narrower dtype put first in :func:`narrow_first`, per implementation dtype
NARROWER = {"float32": "bfloat16", "float64": "float32", "float16": "bfloat16"}


def narrow_first(target: Target, path: str | None = None) -> Scenario | None:
    """Three steps of a group of a tensor of :data:`NARROWER`'s dtype followed by two of the
    implementation's (17 and 1000 elements), at the default hyperparameters; None where no
    format is narrower (bfloat16)."""
    own = target.adapter.fmt.name
    narrower = NARROWER.get(own)
    if narrower is None:
        return None
    from radam_verify.suite.draws import rounded_to

    shapes = ((5,), *SHAPES)
    dtypes = (narrower, own, own)
    params = tuple(rounded_to(d, _values(target, shape, -1, 0, 30 + k))
                   for k, (d, shape) in enumerate(zip(dtypes, shapes, strict=True)))
    grads = tuple((tuple(rounded_to(d, _values(target, shape, -3, -1, 130 + 10 * i + k))
                         for k, (d, shape) in enumerate(zip(dtypes, shapes, strict=True))),)
                  for i in range(3))
    return Scenario((GroupSpec(_hyper(target), params, dtypes=dtypes),), grads, path=path)


def beta2_schedule(target: Target) -> Scenario:
    """Three steps of a tensor of 17 elements at the default hyperparameters, beta2 set to
    0.99 before the second and to 0.9 before the third (module docstring)."""
    hyper = _hyper(target)
    theta = _values(target, (17,), -1, 0, 40)
    grads = tuple(((_values(target, (17,), -3, -1, 140 + i),),) for i in range(3))
    retuned = tuple((k, (replace(hyper, beta2=beta2),)) for k, beta2 in ((1, 0.99), (2, 0.9)))
    return Scenario((GroupSpec(hyper, (theta,)),), grads, retuned=retuned)


def frozen_sparse(target: Target) -> Scenario:
    """Two steps of a tensor of 17 elements at lr = 0, every third element's gradients zero,
    the other hyperparameters the defaults (module docstring)."""
    hyper = replace(_hyper(target), lr=0.0)
    theta = _values(target, (17,), -1, 0, 50)
    zero = np.arange(17) % 3 == 0
    grads = tuple(((np.where(zero, 0.0, _values(target, (17,), -3, -1, 150 + i)),),)
                  for i in range(2))
    return Scenario((GroupSpec(hyper, (theta,)),), grads)

