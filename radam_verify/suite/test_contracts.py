"""Properties 10-11: the API's contracts beyond the arithmetic.

The scalars at the edges of their domain are legal inputs: lr = 0 (a step that changes no
parameter, as a warm-up schedule starts), subnormal lr and eps, and decoupled weight decay
with lr * weight_decay exactly 1 (the decay factor is exactly 0); each is judged against
the exact step like any other input, and lr = 0 must leave every parameter bit for bit as
it was. ``step(closure)`` calls the closure once, with gradients enabled, and returns its
loss.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import strategies as st

from radam_verify.hyper import Hyper
from radam_verify.suite import checks, designed, draws
from radam_verify.suite.scenario import Scenario
from radam_verify.suite.target import Record, Target, calling, fail, require_conforms


def edge_scalars(target: Target) -> st.SearchStrategy[Hyper]:
    """Hyperparameters with lr, eps or (lr, weight decay) at an edge of the domain; the
    subnormal lr and eps are the implementation's format's (a smaller eps is 0 in it)."""
    fmt = target.adapter.fmt
    tiny, smallest_normal = fmt.smallest_subnormal, fmt.smallest_normal
    subnormal = st.integers(1, 2**20).map(lambda k: min(k * tiny, smallest_normal / 2))
    lrs = st.one_of(st.just(0.0), st.just(tiny), subnormal, st.just(smallest_normal))
    epss = st.one_of(st.just(tiny), subnormal, st.just(smallest_normal))
    base = draws.hyper_for(target)
    edges: list[st.SearchStrategy[Hyper]] = [
        st.builds(lambda h, lr: replace(h, lr=lr), base, lrs),
        st.builds(lambda h, eps: replace(h, eps=eps), base, epss),
    ]
    caps = target.adapter.capabilities
    if caps.weight_decay and target.convention.decays_with_lr:
        # lr = 2^-k and weight decay 2^k: their binary64 product is exactly 1
        edges.append(st.builds(lambda h, k: replace(h, lr=2.0**-k, weight_decay=2.0**k), base,
                               st.integers(0, 10)))
    return st.one_of(edges)


def _unchanged_at_lr_zero(target: Target, what: str, scenario: Scenario) -> None:
    """With lr = 0, theta is bit for bit what it was after every step (:func:`checks.frozen`).
    Only with eps > 0: with eps = 0 an element whose v underflowed to 0 in the format divides
    by 0 (lr times inf), a case the error model does not judge (its bound is infinite
    there). Not where decoupled decay is unscaled by lr: it scales theta by 1 - wd at lr = 0."""
    unscaled = target.convention.weight_decay == "decoupled-unscaled"
    if any(g.hyper.lr != 0.0 or g.hyper.eps == 0.0 or (unscaled and g.hyper.weight_decay != 0.0)
           for g in scenario.all_groups()):
        return
    check: dict[str, object] = {"kind": "frozen"}
    found = calling(target, what, scenario,
                    lambda: checks.frozen(target.adapter, scenario), check)
    if found is not None:
        raise fail(target, what, scenario, found.text,
                   {"quantity": "theta", **(found.where or {})}, check)


def test_scalars_at_the_edges_of_their_domain_follow_the_exact_step(
        verify_target: Target, verify_record: Record) -> None:
    """lr = 0, subnormal lr and eps, and lr * weight_decay = 1 exactly (decoupled decay) are
    legal: each step is within the bound of the exact step, and lr = 0 changes no parameter
    (trajectories from a fresh state, and two steps from an injected one)."""
    what = "scalars at the edges of their domain"

    def prop(scenario: Scenario) -> None:
        outcome = calling(verify_target, what, scenario,
                          lambda: checks.exact(verify_target.adapter, scenario,
                                               verify_target.convention))
        require_conforms(verify_target, what, scenario, outcome, verify_record)
        if outcome.out_of_domain is None:  # (lr = 0 with eps = 0 may divide 0 by 0)
            _unchanged_at_lr_zero(verify_target, what, scenario)

    hyper = edge_scalars(verify_target)
    strategy = draws.trajectory(verify_target, max_steps=12, hyper=hyper)
    if verify_target.adapter.capabilities.inject_state:  # also from any state, e.g. late
        strategy = st.one_of(strategy, draws.injected_step(verify_target, steps=2, hyper=hyper))
    # and with elements whose m, v and gradients are all zero, where the denominator is eps
    # (first a designed one at lr = 0: radam_verify.suite.designed.frozen_sparse)
    verify_target.verify(st.one_of(strategy, zero_elements(strategy)), prop,
                         designed=[designed.frozen_sparse(verify_target)])


@st.composite
def zero_elements(draw: st.DrawFn, scenarios: st.SearchStrategy[Scenario]) -> Scenario:
    """A scenario with some elements' gradients (and injected m and v) zero at every step:
    drawn one by one in a small tensor, a drawn share of a large one (at least one)."""
    scenario = draw(scenarios)
    shape = np.shape(scenario.groups[0].params[0])
    size = math.prod(shape)
    if size <= ZERO_ELEMENTWISE:
        zero = np.asarray(draw(st.lists(st.booleans(), min_size=size, max_size=size)
                               .filter(any)))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        zero = rng.random(size) < draw(st.sampled_from([0.01, 0.5]))
        zero[draw(st.integers(0, size - 1))] = True
    zero = zero.reshape(shape)

    def cleared(values: np.ndarray | None) -> np.ndarray | None:
        if values is None or np.shape(values) != shape:
            return values
        out = np.array(values, dtype=np.float64)
        out[zero] = 0.0
        return out

    steps = tuple(tuple(tuple(cleared(g) for g in group) for group in step)
                  for step in scenario.steps)
    start = None if scenario.start is None else tuple(
        tuple(replace(s, m=cleared(s.m), v=cleared(s.v)) for s in group)
        for group in scenario.start)
    return replace(scenario, steps=steps, start=start)


#: up to this many elements, which are zero is drawn element by element
ZERO_ELEMENTWISE = 64


def test_step_calls_its_closure_once_and_returns_its_loss(verify_target: Target,
                                                         verify_record: Record) -> None:
    """step(closure) calls the closure exactly once, with gradients enabled, returns its
    loss, and steps bit for bit as step() after setting the same gradients."""
    caps = verify_target.adapter.capabilities
    if not caps.closure:
        pytest.skip(caps.notes.get("closure", "the implementation's step takes no closure"))
    what = "step(closure)"
    check: dict[str, object] = {"kind": "closure"}
    verify_record.compares = ("the closure's calls and the loss returned on each step, and theta, "
                              "m, v and the step count against step() with the same gradients")

    def prop(scenario: Scenario) -> None:
        verify_record.count()
        found = calling(verify_target, what, scenario,
                        lambda: checks.closure(verify_target.adapter, scenario), check)
        verify_record.compared += len(scenario.steps)
        if found is not None:
            raise fail(verify_target, what, scenario, str(found),
                       {"quantity": found.quantity, "mismatch": str(found)}, check)

    verify_target.verify(draws.trajectory(verify_target, max_steps=6), prop,
                         verify_target.profile.contract_examples)
