"""A scenario: everything one property example runs, and its judgement against exact arithmetic.

A :class:`Scenario` holds the groups (hyperparameters and initial tensors), optionally an
injected starting state, the gradients of every step and groups added on the way. It runs
on an :class:`~radam_verify.adapters.Adapter`, and every tensor's observed trajectory is
judged against its exact trajectory with the error model (:mod:`radam_verify.judge`).
A scenario is plain data, so a failing one is printed as a pasteable reproduction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from radam_verify.adapters import Adapter, GroupSpec, ParamState
from radam_verify.clipping import clip_step
from radam_verify.conventions import Convention
from radam_verify.errors import OutOfDomainError, UncertifiedError
from radam_verify.fast_judge import applies as fast_applies
from radam_verify.fast_judge import judge_trajectory_fast
from radam_verify.floats import Format
from radam_verify.hyper import Hyper
from radam_verify.judge import Judgement, judge_trajectory
from radam_verify.layout import Layout
from radam_verify.reference import ExactState
from radam_verify.views import Placement, Strided

Grads = tuple[tuple[np.ndarray | None, ...], ...]  # [group][param] of one step


@dataclass(frozen=True, eq=False)
class Scenario:
    groups: tuple[GroupSpec, ...]
    steps: tuple[Grads, ...]  # steps[k][group][param]; later groups appear once added
    start: tuple[tuple[ParamState, ...], ...] | None = None  # injected state, per tensor
    added: tuple[tuple[int, GroupSpec], ...] = ()  # (before step k, group)
    path: str | None = None  # a named code path of the adapter
    #: (before step k, the hyperparameters of each of ``groups`` from then on), as a
    #: training loop's schedule sets them in the live optimizer (``Instance.retune``)
    retuned: tuple[tuple[int, tuple[Hyper, ...]], ...] = ()

    def all_groups(self) -> list[GroupSpec]:
        return [*self.groups, *(group for _, group in self.added)]

    def groups_at(self, k: int) -> tuple[GroupSpec, ...]:
        """``groups`` with the hyperparameters in force at step ``k`` (0-based)."""
        groups = self.groups
        for before, hypers in self.retuned:
            if before <= k:
                groups = tuple(replace(g, hyper=h) for g, h in zip(groups, hypers, strict=True))
        return groups

    def alone(self) -> tuple[Scenario, ...]:
        """Each tensor of a one-group scenario alone (its values, state, gradients, layout
        and dtype), smallest first; none where the scenario has one tensor, several groups
        or groups added later. A failing designed example is reported as the first of
        these that fails too (:meth:`Target.verify`): Hypothesis shrinks drawn examples,
        not explicit ones."""
        if len(self.groups) != 1 or self.added or len(self.groups[0].params) < 2:
            return ()
        group = self.groups[0]

        def only(p: int) -> Scenario:
            one = replace(group, params=(group.params[p],),
                          placements=None if group.placements is None
                          else (group.placements[p],),
                          dtypes=None if group.dtypes is None else (group.dtypes[p],))
            return replace(self, groups=(one,),
                           steps=tuple(((row[0][p],),) for row in self.steps),
                           start=None if self.start is None else ((self.start[0][p],),))

        order = sorted(range(len(group.params)), key=lambda p: np.size(group.params[p]))
        return tuple(only(p) for p in order)

    def hyper_at(self, k: int, g: int) -> Hyper:
        """Group ``g``'s hyperparameters at step ``k`` (a group added later keeps its own)."""
        groups = self.groups_at(k)
        return groups[g].hyper if g < len(groups) else self.all_groups()[g].hyper


@dataclass(frozen=True)
class TensorVerdict:
    group: int
    param: int
    judgement: Judgement


@dataclass
class Outcome:
    """The verdicts of every tensor of one scenario, or why it could not be judged."""

    verdicts: list[TensorVerdict] = field(default_factory=list)
    out_of_domain: str | None = None
    mismatch: str | None = None  # a failed bitwise check (reload, unchanged)

    @property
    def conforms(self) -> bool:
        return self.mismatch is None and all(v.judgement.conforms for v in self.verdicts)

    def worst(self) -> TensorVerdict | None:
        return max(self.verdicts, key=lambda v: v.judgement.worst_ratio, default=None)


def run(adapter: Adapter, scenario: Scenario) -> tuple[list[list[ParamState]], list[list[list[ParamState]]]]:
    """Run the scenario: the state it started from and the state after every step."""
    instance = adapter.open(scenario.groups, scenario.path)
    if scenario.start is not None:
        instance.inject(scenario.start)
    initial = instance.read()
    added = dict(scenario.added)
    retuned = dict(scenario.retuned)
    observed = []
    for k, grads in enumerate(scenario.steps):
        if k in added:
            instance.add_group(added[k])
            initial.append(instance.read()[-1])
        if k in retuned:
            instance.retune(retuned[k])
        instance.step(grads)
        observed.append(instance.read())
    return initial, observed


def judge(adapter: Adapter, scenario: Scenario, convention: Convention,
          initial: list[list[ParamState]], observed: list[list[list[ParamState]]],
          *, first_failure: bool = False) -> Outcome:
    """Judge every tensor's trajectory from the state it held at the start (exactly);
    ``first_failure``: stop at the first tensor and step that exceed their bound (for
    identification, which only needs to know that a candidate fails)."""

    outcome = Outcome()
    layout = adapter.state_layout
    first_step = {len(scenario.groups) + i: k for i, (k, _) in enumerate(scenario.added)}
    clipped = None
    if math.isfinite(convention.clip_norm):  # LAMB's global clipping couples every tensor
        formats = [[_format(adapter, group, p) for p in range(len(group.params))]
                   for group in scenario.all_groups()]
        try:
            clipped = [clip_step(row, convention.clip_norm, formats) for row in scenario.steps]
        except OutOfDomainError as error:
            outcome.out_of_domain = str(error)
            return outcome
    for g, group in enumerate(scenario.all_groups()):
        begin = first_step.get(g, 0)
        for p in range(len(group.params)):
            held = initial[g][p]
            fmt = _format(adapter, group, p)
            steps = [k for k in range(begin, len(scenario.steps))
                     if layout.counter != "call" or _stepped(scenario.steps[k][g])]
            grads = [_flat(scenario.steps[k][g][p]) for k in steps]
            errors = None
            if clipped is not None:
                grads = [_flat(clipped[k].grads[g][p]) for k in steps]
                errors = [_flat(clipped[k].errors[g][p]) for k in steps]
            seen = [_triple(observed[k][g][p]) for k in steps]
            try:
                # the hyperparameters of each step (a schedule may set them between steps),
                # as the reading holds them (binary32 numbers where it holds them so)
                hyper = convention.held(group.hyper)
                hypers = ([convention.held(scenario.hyper_at(k, g)) for k in steps]
                          if scenario.retuned else hyper)
                verdict = None
                if _fast(adapter, fmt, held.theta.size, grads, convention):
                    try:
                        verdict = judge_trajectory_fast(seen, _held(scenario, g, p, held,
                                                                convention), grads,
                                                        hypers, convention, fmt,
                                                        schedule=adapter.schedule,
                                                        grad_errors=errors)
                    except UncertifiedError:  # beyond the fast centre's range: judge exactly
                        verdict = None
                if verdict is None:
                    verdict = judge_trajectory(seen, _start(scenario, layout, g, p, held, hyper,
                                                            convention),
                                               grads, hypers, convention, fmt,
                                               layout=layout, schedule=adapter.schedule,
                                               first_failure=first_failure,
                                               grad_errors=errors)
            except OutOfDomainError as error:
                outcome.out_of_domain = str(error)
                return outcome
            outcome.verdicts.append(TensorVerdict(g, p, verdict))
            if first_failure and not verdict.conforms:
                return outcome
    return outcome


def _format(adapter: Adapter, group: GroupSpec, p: int) -> Format:
    """The format tensor ``p`` of ``group`` is judged in: the implementation's, or its own
    dtype's where the group mixes dtypes (flushing subnormals where the platform does)."""
    from radam_verify.floats import FORMATS

    fmt = adapter.fmt
    if group.dtypes is not None and group.dtypes[p] != fmt.name:
        fmt = FORMATS[group.dtypes[p]]
        fmt = fmt.flushing() if adapter.fmt.flushes else fmt
    return fmt


def _stepped(grads: Sequence[np.ndarray | None]) -> bool:
    """Whether a step gives one of a group's tensors a gradient (a call that steps the group:
    without one, an implementation that counts calls is not called for that group)."""
    return any(grad is not None for grad in grads)


def _start(scenario: Scenario, layout: Layout, g: int, p: int, held: ParamState,
           hyper: Hyper, convention: Convention) -> ExactState:
    """The exact state a tensor started from: what it holds, in its own layout, mapped to
    (theta, m, v, t) exactly (with ``hyper``, the group's as the reading holds them)."""
    theta, m, v, t, v_max, slow = _held(scenario, g, p, held, convention)
    return layout.exact_state(theta, m, v, t, hyper, v_max, slow)


def _held(scenario: Scenario, g: int, p: int, held: ParamState, convention: Convention,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray | None,
                     np.ndarray | None]:
    """(theta, m, v, t) a tensor started from as it holds them, injected or fresh, then
    AMSGrad's running maximum (None: zeros) and Lookahead's slow weights (None: theta) where
    the reading keeps them: read back, else as injected (v and theta where none were given,
    as the adapters set them)."""
    if scenario.start is not None and g < len(scenario.groups):
        source = scenario.start[g][p]
        v = _value(held.v, source.v)
        v_max = slow = None
        if convention.keeps_max:
            v_max = np.asarray(held.v_max if held.v_max is not None else (
                source.v_max if source.v_max is not None else v), dtype=np.float64)
        t = int(source.t or 0)
        if convention.holds_slow(t):  # none before the step the reading sets them
            slow = np.asarray(held.slow if held.slow is not None else (
                source.slow if source.slow is not None else held.theta), dtype=np.float64)
        return (held.theta, _value(held.m, source.m), v, t, v_max, slow)
    zeros = np.zeros_like(held.theta)
    return held.theta, zeros, zeros, 0, None, None


def _fast(adapter: Adapter, fmt: Format, size: int, grads: Sequence[np.ndarray | None],
          convention: Convention) -> bool:
    """Whether a tensor is judged by the certified fast reference (:mod:`radam_verify.fast_judge`):
    a large tensor, raw moments, and where it has a step without a gradient, a step count
    of its own (the step keeps its state as it is; a counter shared by the group or the
    optimizer would advance its t) and Lookahead counting the tensor's steps (counted per
    group, its syncs follow the group's count, which the fast path does not follow)."""
    layout = adapter.state_layout
    every = all(grad is not None for grad in grads)
    return (fast_applies(fmt, size) and not layout.debiased
            and (every or not (layout.shared or convention.lookahead_count != "tensor")))


def _flat(values: np.ndarray | None) -> np.ndarray | None:
    """A gradient of any shape as the flat array the judges index (row-major, as read())."""
    return None if values is None else np.asarray(values).reshape(-1)


def _value(read: np.ndarray | None, given: np.ndarray | None) -> np.ndarray:
    """The state value the implementation holds: read back where readable, else as injected."""
    if read is not None:
        return read
    assert given is not None
    return np.asarray(given, dtype=np.float64)


def _triple(state: ParamState) -> tuple[np.ndarray | None, ...]:
    """What is judged of a tensor after a step (``judge.QUANTITIES``): theta, m, v,
    AMSGrad's v_max and Lookahead's slow weights (None: not read)."""
    return state.theta, state.m, state.v, state.v_max, state.slow


def scenario_json(scenario: Scenario) -> dict[str, object]:
    """The scenario as JSON-ready data (exact floats: Python's repr round-trips)."""
    def hyper(group: GroupSpec) -> dict[str, object]:
        return hyper_json(group.hyper)

    def hyper_json(h: Hyper) -> dict[str, object]:
        return {"lr": h.lr, "beta1": h.beta1, "beta2": h.beta2, "eps": h.eps,
                "weight_decay": h.weight_decay, "maximize": h.maximize}

    def group_json(group: GroupSpec) -> dict[str, object]:
        out: dict[str, object] = {"hyper": hyper(group), "params": [_floats(p) for p in group.params]}
        if any(np.ndim(p) != 1 for p in group.params):  # gradients take their tensor's shape
            out["shapes"] = [list(np.shape(p)) for p in group.params]
        if group.dtypes is not None:
            out["dtypes"] = list(group.dtypes)
        if group.placements is not None:
            out["placements"] = [{"param": w.param.json(), "grad": w.grad.json()}
                                 for w in group.placements]
        return out

    data: dict[str, object] = {
        "groups": [group_json(g) for g in scenario.groups],
        "steps": [[[None if g is None else _floats(g) for g in group] for group in step]
                  for step in scenario.steps],
    }
    if scenario.start is not None:
        data["start"] = [[{"theta": _floats(s.theta), "m": _floats(s.m), "v": _floats(s.v), "t": s.t}
                          for s in group] for group in scenario.start]
    if scenario.added:
        data["added"] = [[k, group_json(g)] for k, g in scenario.added]
    if scenario.path is not None:
        data["path"] = scenario.path
    if scenario.retuned:
        data["retuned"] = [[k, [hyper_json(h) for h in hypers]] for k, hypers in scenario.retuned]
    return data


def scenario_from_json(data: dict[str, object]) -> Scenario:
    """The inverse of :func:`scenario_json`."""
    def group(entry: dict[str, object]) -> GroupSpec:
        raw = entry["hyper"]
        assert isinstance(raw, dict)
        params = entry["params"]
        assert isinstance(params, list)
        shapes = entry.get("shapes") or [[len(p)] for p in params]
        assert isinstance(shapes, list)
        placed = entry.get("placements")
        placements = None if not isinstance(placed, list) else tuple(
            Placement(Strided.from_json(w["param"]), Strided.from_json(w["grad"]))
            for w in placed)
        dtypes = entry.get("dtypes")
        return GroupSpec(Hyper(**raw), tuple(np.asarray(p, dtype=np.float64).reshape(shape)
                                             for p, shape in zip(params, shapes, strict=True)),
                         placements,
                         None if not isinstance(dtypes, list) else tuple(map(str, dtypes)))

    groups = data["groups"]
    steps = data["steps"]
    assert isinstance(groups, list)
    assert isinstance(steps, list)
    added_raw = data.get("added", [])
    assert isinstance(added_raw, list)
    built = [group(g) for g in groups]
    added = [(int(k), group(g)) for k, g in added_raw]
    shapes = [[p.shape for p in g.params] for g in [*built, *(g for _, g in added)]]

    def arrays(step: Sequence[Sequence[Sequence[float] | None]]) -> Grads:
        return tuple(tuple(None if g is None else np.asarray(g, dtype=np.float64).reshape(shape)
                           for g, shape in zip(grp, shapes[i], strict=True))
                     for i, grp in enumerate(step))

    start = None
    if "start" in data:
        raw_start = data["start"]
        assert isinstance(raw_start, list)
        def state(s: dict[str, object], shape: tuple[int, ...]) -> ParamState:
            theta, m, v = (np.asarray(s[k], dtype=np.float64).reshape(shape)
                           for k in ("theta", "m", "v"))
            return ParamState(theta, m, v, int(str(s["t"])))

        start = tuple(tuple(state(s, shape) for s, shape in zip(grp, shapes[g], strict=True))
                      for g, grp in enumerate(raw_start))
    path = data.get("path")
    retuned_raw = data.get("retuned", [])
    assert isinstance(retuned_raw, list)
    retuned = tuple((int(k), tuple(Hyper(**h) for h in hypers)) for k, hypers in retuned_raw)
    return Scenario(tuple(built), tuple(arrays(s) for s in steps), start, tuple(added),
                    path if isinstance(path, str) else None, retuned)


def _floats(values: np.ndarray | None) -> list[float]:
    assert values is not None
    return [float(x) for x in np.asarray(values, dtype=np.float64).reshape(-1)]
