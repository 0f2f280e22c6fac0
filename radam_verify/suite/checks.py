"""The checks the properties apply to a drawn scenario (also used by :func:`replay`).

``exact``: every tensor's trajectory lies within the error model's bound of the exact one
(``local``: only the last step, judged from the state the implementation held before it).
``reload``: saving the optimizer's state after ``save_at`` steps and loading it into a new
optimizer continues bit for bit as the uninterrupted run. ``unchanged``: a step leaves the
gradients and the per-group hyperparameters as they were. ``closure``: ``step(closure)``
calls its closure once, with gradients enabled, returns its loss, and steps bit for bit as
a step after setting the gradients. ``placed``: ``exact`` for parameters that are strided
views into a larger storage, whose other elements keep their canaries after every step.
``frozen``: with lr = 0 every step leaves theta bit for bit as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from radam_verify.adapters import Adapter, GroupSpec, Instance, ParamState
from radam_verify.conventions import Convention
from radam_verify.suite.scenario import Outcome, Scenario, judge, run
from radam_verify.views import canaries


def exact(adapter: Adapter, scenario: Scenario, convention: Convention, *,
          local: bool = False) -> Outcome:
    """Run and judge; with ``local``, judge only the last step from the state read before it
    (with the hyperparameters in force at that step: a retuned scenario is judged so)."""
    initial, observed = run(adapter, scenario)
    if not local or len(scenario.steps) < 2:
        return judge(adapter, scenario, convention, initial, observed)
    before = observed[-2]
    start = tuple(tuple(ParamState(s.theta, s.m, s.v, s.t) for s in group) for group in before)
    last = Scenario(scenario.groups_at(len(scenario.steps) - 1), scenario.steps[-1:], start=start)
    return judge(adapter, last, convention, before, observed[-1:])


@dataclass(frozen=True)
class Mismatch:
    """What a bitwise check found different: which quantity, and where, in words."""

    quantity: Literal["state_dict", "gradient", "hyperparameters", "closure", "canary", "storage",
                      "theta"]
    text: str
    #: the element it is about, where there is one: group, tensor, index and step t
    where: Mapping[str, int] | None = None

    def __str__(self) -> str:
        return self.text


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(a, b, equal_nan=True))


def _first_difference(left: list[list[ParamState]], right: list[list[ParamState]],
                      names: tuple[str, str] = ("after reloading", "in the uninterrupted run"),
                      ) -> str | None:
    """Where two runs' states first differ, in words (``names``: how each run is called)."""
    first, second = names
    for g, (group_l, group_r) in enumerate(zip(left, right, strict=True)):
        for p, (a, b) in enumerate(zip(group_l, group_r, strict=True)):
            for name in ("theta", "m", "v", "v_max", "slow"):  # the last two where read
                x, y = getattr(a, name), getattr(b, name)
                if not _same(x, y):
                    if x is None or y is None:
                        return f"group {g}, tensor {p}: {name} is {x} {first}, {y} {second}"
                    i = int(np.argmax(~((x == y) | (np.isnan(x) & np.isnan(y)))))
                    return (f"group {g}, tensor {p}: {name}[{i}] = {float(x[i])!r} {first}, "
                            f"{float(y[i])!r} {second}")
            if a.t != b.t:
                return f"group {g}, tensor {p}: step count {a.t} {first}, {b.t} {second}"
    return None


def _at(groups: tuple[GroupSpec, ...], states: list[list[ParamState]]) -> list[GroupSpec]:
    """``groups`` over the parameter values ``states`` read (flat), each in its tensor's
    shape and dtype (contiguous tensors of their own)."""
    return [replace(g, params=tuple(s.theta.reshape(np.shape(p)) for s, p in
                                    zip(group_states, g.params, strict=True)), placements=None)
            for g, group_states in zip(groups, states, strict=True)]


def reload(adapter: Adapter, scenario: Scenario, save_at: int) -> Mismatch | None:
    """Where a run reloaded after ``save_at`` steps first differs from the uninterrupted run."""
    straight = adapter.open(scenario.groups, scenario.path)
    interrupted = adapter.open(scenario.groups, scenario.path)
    for k, grads in enumerate(scenario.steps[:save_at]):
        del k
        straight.step(grads)
        interrupted.step(grads)
    saved = interrupted.save()
    current = _at(scenario.groups, interrupted.read())
    resumed = adapter.open(current, scenario.path)
    resumed.load(saved)
    for k, grads in enumerate(scenario.steps[save_at:], start=save_at + 1):
        straight.step(grads)
        resumed.step(grads)
        found = _first_difference(resumed.read(), straight.read())
        if found is not None:
            return Mismatch("state_dict", f"step {k} (state saved after step {save_at}): {found}")
    return None


def transplant(adapter: Adapter, scenario: Scenario, save_at: int) -> Mismatch | None:
    """Where an optimizer that loaded another's state dict object in process (no
    serialization) after ``save_at`` steps is not independent of it: stepping it changes the
    source, or changing the source (a step, its hyperparameters) or the state dict object
    changes it, so that it no longer continues as one loaded from a serialized copy."""
    source = adapter.open(scenario.groups, scenario.path)
    for grads in scenario.steps[:save_at]:
        source.step(grads)
    current = _at(scenario.groups, source.read())
    loaded, control = adapter.open(current, scenario.path), adapter.open(current, scenario.path)
    control.load(source.save())  # a serialized copy: independent of the source by construction
    change_loaded_dict = loaded.load_live(source)
    held = source.read()
    loaded.step(scenario.steps[save_at])
    control.step(scenario.steps[save_at])
    found = _first_difference(source.read(), held, ("now", "before"))
    if found is not None:
        return Mismatch("state_dict", f"step {save_at + 1} of the optimizer that loaded the "
                        "state dict changed the optimizer it came from: " + found)
    change_loaded_dict()
    source.change_hyperparameters()
    source.step(scenario.steps[save_at])
    for k, grads in enumerate(scenario.steps[save_at:], start=save_at + 1):
        if k > save_at + 1:
            loaded.step(grads)
            control.step(grads)
        found = _first_difference(loaded.read(), control.read(),
                                  ("in the loaded optimizer", "in one loaded from a serialized copy"))
        if found is not None:
            return Mismatch("state_dict", f"step {k} (state dict loaded after step {save_at}; "
                            "then the state dict object, the source's hyperparameters and, by "
                            f"a step, its state were changed): {found}")
    return None


def _copies(grads: tuple[tuple[np.ndarray | None, ...], ...], adapter: Adapter
            ) -> list[list[np.ndarray | None]]:
    # flat, as every adapter reads gradients back (row-major)
    return [[None if g is None else adapter.to_format(g).astype(np.float64).reshape(-1)
             for g in group] for group in grads]


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
                if not _same(a, None if b is None else np.asarray(b).reshape(-1)):
                    return Mismatch("gradient", f"step {k} changed the gradient of group {g}, "
                                    f"tensor {p}: {a} -> {b}")
        after = instance.hyperparameters()
        if before != after:
            return Mismatch("hyperparameters",
                            f"step {k} changed the group hyperparameters: {before} -> {after}")
    return None


def frozen(adapter: Adapter, scenario: Scenario) -> Mismatch | None:
    """Where a step with lr = 0 first changed theta (the scenario's groups all have lr = 0).
    Where the format is judged flushing subnormals, a subnormal theta may become zero."""
    initial, observed = run(adapter, scenario)
    for k, states in enumerate(observed, start=1):
        for g, group in enumerate(states):
            for p, state in enumerate(group):
                before = initial[g][p].theta
                changed = state.theta != before
                if adapter.fmt.flushes:
                    changed &= ~((np.abs(before) < adapter.fmt.smallest_normal)
                                 & (state.theta == 0.0))
                if changed.any():
                    i = int(np.argmax(changed))
                    return Mismatch("theta", f"with lr = 0, step {k} changed theta[{i}] of group "
                                    f"{g}, tensor {p} from {float(before[i])!r} to "
                                    f"{float(state.theta[i])!r}",
                                    {"group": g, "tensor": p, "index": i, "t": k})
    return None


def closure(adapter: Adapter, scenario: Scenario) -> Mismatch | None:
    """What ``step(closure)`` did otherwise than a step after setting the gradients: the
    closure called other than once, without gradients enabled, its loss not returned, or a
    state that differs bit for bit from the plain step's."""
    through = adapter.open(scenario.groups, scenario.path)
    plain = adapter.open(scenario.groups, scenario.path)
    for k, grads in enumerate(scenario.steps, start=1):
        call = through.step_closure(grads)
        plain.step(grads)
        if call.calls != 1:
            return Mismatch("closure", f"step {k} called its closure {call.calls} times")
        if not all(call.grad_enabled):
            return Mismatch("closure", f"step {k} called its closure with gradients disabled "
                            "(a closure that calls backward() fails)")
        if not call.returned_loss:
            return Mismatch("closure", f"step {k} returned {call.returned}, not the closure's loss")
        found = _first_difference(through.read(), plain.read(),
                                  ("through step(closure)", "through step()"))
        if found is not None:
            return Mismatch("closure", f"step {k}: {found}")
    return None


def placed(adapter: Adapter, scenario: Scenario, convention: Convention) -> Outcome | Mismatch:
    """Run a scenario of placed parameters (:mod:`radam_verify.views`): the first storage
    element outside a view that a step changed, or the first element of a view that no
    longer holds the parameter's value (the parameter moved to new storage), else every
    tensor's judgement."""
    initial, observed = run(adapter, scenario)
    groups = scenario.all_groups()
    for k, states in enumerate([initial, *observed]):
        for g, group_states in enumerate(states):
            placements = groups[g].placements
            for p, state in enumerate(group_states):
                if placements is None or state.storage is None:
                    continue
                view = placements[p].param
                outside = view.outside()
                want = canaries(view.size)[outside]
                got = state.storage[outside]
                changed = np.flatnonzero(~((got == want) | (np.isnan(got) & np.isnan(want))))
                if changed.size:
                    i = int(outside[changed[0]])
                    when = f"step {k}" if k else "constructing the optimizer"
                    return Mismatch("canary", (
                        f"{when} wrote outside the view of group {g}, tensor {p} "
                        f"({view.describe()}): storage[{i}] held the canary "
                        f"{float(canaries(view.size)[i])!r} and now holds {float(state.storage[i])!r} "
                        f"({changed.size} of the {outside.size} elements outside the view changed)"))
                inside = view.indices()
                held = state.storage[inside]
                theta = np.asarray(state.theta, dtype=np.float64).reshape(-1)
                apart = np.flatnonzero(~((held == theta) | (np.isnan(held) & np.isnan(theta))))
                if apart.size:
                    j = int(apart[0])
                    when = f"after step {k}" if k else "after constructing the optimizer"
                    return Mismatch("storage", (
                        f"{when}, the view of group {g}, tensor {p} ({view.describe()}) no "
                        f"longer holds the parameter: its element {j} (storage[{int(inside[j])}]) "
                        f"is {float(held[j])!r} where the parameter reads {float(theta[j])!r} "
                        f"({apart.size} of its {inside.size} elements differ): the parameter "
                        "was given new storage (e.g. p.data = p.data.contiguous()) instead of "
                        "being stepped in its own"))
    return judge(adapter, scenario, convention, initial, observed)
