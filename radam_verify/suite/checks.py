"""The checks the properties apply to a drawn scenario (also used by :func:`replay`).

``exact``: every tensor's trajectory lies within the error model's bound of the exact one
(``local``: only the last step, judged from the state the implementation held before it).
``reload``: saving the optimizer's state after ``save_at`` steps and loading it into a new
optimizer continues bit for bit as the uninterrupted run. ``unchanged``: a step leaves the
gradients and the per-group hyperparameters as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from radam_verify.adapters import Adapter, Instance, ParamState
from radam_verify.conventions import Convention
from radam_verify.suite.scenario import Outcome, Scenario, judge, run


def exact(adapter: Adapter, scenario: Scenario, convention: Convention, *,
          local: bool = False) -> Outcome:
    """Run and judge; with ``local``, judge only the last step from the state read before it."""
    initial, observed = run(adapter, scenario)
    if not local or len(scenario.steps) < 2:
        return judge(adapter, scenario, convention, initial, observed)
    before = observed[-2]
    start = tuple(tuple(ParamState(s.theta, s.m, s.v, s.t) for s in group) for group in before)
    last = Scenario(scenario.groups, scenario.steps[-1:], start=start)
    return judge(adapter, last, convention, before, observed[-1:])


@dataclass(frozen=True)
class Mismatch:
    """What a bitwise check found different: which quantity, and where, in words."""

    quantity: Literal["state_dict", "gradient", "hyperparameters"]
    text: str

    def __str__(self) -> str:
        return self.text


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(a, b, equal_nan=True))


def _first_difference(left: list[list[ParamState]], right: list[list[ParamState]]) -> str | None:
    for g, (group_l, group_r) in enumerate(zip(left, right, strict=True)):
        for p, (a, b) in enumerate(zip(group_l, group_r, strict=True)):
            for name in ("theta", "m", "v"):
                x, y = getattr(a, name), getattr(b, name)
                if not _same(x, y):
                    if x is None or y is None:
                        return f"group {g}, tensor {p}: {name} is {x} after reloading, {y} without"
                    i = int(np.argmax(~((x == y) | (np.isnan(x) & np.isnan(y)))))
                    return (f"group {g}, tensor {p}: {name}[{i}] = {float(x[i])!r} after reloading, "
                            f"{float(y[i])!r} in the uninterrupted run")
            if a.t != b.t:
                return f"group {g}, tensor {p}: step count {a.t} after reloading, {b.t} without"
    return None


def reload(adapter: Adapter, scenario: Scenario, save_at: int) -> Mismatch | None:
    """Where a run reloaded after ``save_at`` steps first differs from the uninterrupted run."""
    straight = adapter.open(scenario.groups, scenario.path)
    interrupted = adapter.open(scenario.groups, scenario.path)
    for k, grads in enumerate(scenario.steps[:save_at]):
        del k
        straight.step(grads)
        interrupted.step(grads)
    saved = interrupted.save()
    current = [type(g)(g.hyper, tuple(s.theta for s in states))
               for g, states in zip(scenario.groups, interrupted.read(), strict=True)]
    resumed = adapter.open(current, scenario.path)
    resumed.load(saved)
    for k, grads in enumerate(scenario.steps[save_at:], start=save_at + 1):
        straight.step(grads)
        resumed.step(grads)
        found = _first_difference(resumed.read(), straight.read())
        if found is not None:
            return Mismatch("state_dict", f"step {k} (state saved after step {save_at}): {found}")
    return None


def _copies(grads: tuple[tuple[np.ndarray | None, ...], ...], adapter: Adapter
            ) -> list[list[np.ndarray | None]]:
    return [[None if g is None else adapter.to_format(g).astype(np.float64) for g in group]
            for group in grads]


def unchanged(adapter: Adapter, scenario: Scenario) -> Mismatch | None:
    """What a step changed that it does not own: a gradient or a group hyperparameter."""
    instance: Instance = adapter.open(scenario.groups, scenario.path)
    for k, grads in enumerate(scenario.steps, start=1):
        before = instance.hyperparameters()
        given = _copies(grads, adapter)
        instance.step(grads)
        held = instance.grads()
        for g, (group_given, group_held) in enumerate(zip(given, held, strict=False)):
            for p, (a, b) in enumerate(zip(group_given, group_held, strict=False)):
                if not _same(a, b):
                    return Mismatch("gradient", f"step {k} changed the gradient of group {g}, "
                                    f"tensor {p}: {a} -> {b}")
        after = instance.hyperparameters()
        if before != after:
            return Mismatch("hyperparameters",
                            f"step {k} changed the group hyperparameters: {before} -> {after}")
    return None
