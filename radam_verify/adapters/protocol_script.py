"""The plain-object protocol's part of a stand-alone reproduction script.

The script drives the implementation as the protocol adapter does: one object per group
constructed with the group's keywords, ``init(theta)`` per tensor, ``step(state, grad)``
where a tensor has a gradient, ``state_at(theta, m, v, t)`` to inject, the state pickled
to save it (see :mod:`radam_verify.adapters.script`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from radam_verify.adapters.script import Driver, literal

if TYPE_CHECKING:
    from radam_verify.adapters.protocol import ProtocolAdapter
    from radam_verify.suite.scenario import Scenario

RUN_CLASS = '''
def array(values):
    return np.asarray(values, dtype=np.float64).astype(DTYPE)


def maximum(s):
    """AMSGrad's running maximum and Lookahead's slow weights as state_at takes them (nothing
    where the state has none)."""
    extra = {}
    if MAXIMA:
        extra["v_max"] = array(s["v"] if s.get("v_max") is None else s["v_max"])
    if SLOW:
        extra["slow"] = array(s["theta"] if s.get("slow") is None else s["slow"])
    return extra


def flat(values):
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


class Run:
    """One implementation object per group, one state per tensor."""

    def __init__(self, cls, groups=None):
        self.cls, self.impls, self.states, self.last, self.groups, self.sizes = cls, [], [], [], [], []
        for group in GROUPS if groups is None else groups:
            self.add_group(group)

    def add_group(self, group):
        impl = self.cls(**group["arguments"], **KWARGS)
        self.impls.append(impl)
        self.states.append([impl.init(array(p)) for p in group["params"]])
        self.last.append([None] * len(group["params"]))
        self.groups.append(group)
        self.sizes.append([len(p) for p in group["params"]])

    def inject(self, start):
        for k, (impl, states) in enumerate(zip(self.impls, start)):
            self.states[k] = [impl.state_at(array(s["theta"]), array(s["m"]), array(s["v"]), s["t"],
                                            **maximum(s)) for s in states]

    def step(self, grads):
        for k, (impl, group) in enumerate(zip(self.impls, grads)):
            typed = [None if g is None else array(g) for g in group]
            self.last[k] = typed
            self.states[k] = [s if g is None else impl.step(s, g) for s, g in zip(self.states[k], typed)]

    def read(self, g, p, quantity):
        value = getattr(self.states[g][p], quantity, None)
        return None if value is None else flat(value)

    def copy(self, cls):
        groups = [{**group, "params": [flat(s.theta).tolist() for s in states]}
                  for group, states in zip(self.groups, self.states)]
        return Run(cls, groups)

    def save(self):
        return pickle.dumps(self.states)

    def load(self, saved):
        self.states = pickle.loads(saved)

    def rounded(self, given):
        return flat(array(given))

    def grads(self):
        return [[None if g is None else flat(g) for g in group] for group in self.last]

    def hypers(self):
        return []
'''


def driver(adapter: ProtocolAdapter, scenario: Scenario) -> Driver:
    """The protocol driver for ``scenario`` on ``adapter``'s configuration."""
    from radam_verify.suite.scenario import scenario_json

    kwargs = dict(adapter.capabilities.code_paths[scenario.path] if scenario.path
                  else adapter.kwargs)

    def entry(group: Any) -> dict[str, object]:
        return {"arguments": adapter.arguments(group.hyper),
                "params": [[float(x) for x in np.ravel(p)] for p in group.params]}

    text = "".join([
        f"# the dtype of the parameters\nDTYPE = np.{adapter.fmt.name}\n",
        literal("KWARGS", kwargs, "constructor keywords beside each group's (the code path)"),
        literal("MAXIMA", adapter.capabilities.max_state,
                "whether state_at takes AMSGrad's running maximum v_max"),
        literal("SLOW", adapter.capabilities.slow_state,
                "whether state_at takes Lookahead's slow weights"),
        literal("GROUPS", [entry(g) for g in scenario.groups],
                "one implementation object per group: its keywords and initial values"),
        literal("ADDED", [[k, entry(g)] for k, g in scenario.added],
                "groups added before step k (0-based)"),
        literal("START", scenario_json(scenario).get("start"),
                "the state injected with state_at before the first step (None: init)"),
    ])
    return Driver("numpy and the implementation's own module", "", text, RUN_CLASS)
