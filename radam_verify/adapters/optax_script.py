"""The optax part of a stand-alone reproduction script (see :mod:`radam_verify.adapters.script`).

The script drives the transformation as the optax adapter does: one transformation per
group, ``factory(learning_rate=, b1=, b2=, eps=, ...)``, the group's parameters as one list
pytree, ``update`` under ``jax.jit`` (or eager) then ``optax.apply_updates``, the moments in
the state's ``count``/``mu``/``nu`` node, the state pickled to save it. JAX runs on the CPU,
in x64 mode for float64. ``optax.lookahead`` is built around its ``INNER`` factory, its
parameters a ``LookaheadParams`` pair started synced, the slow weights read and injected
beside the moments and saved with the state. With ``INJECT`` the factory is wrapped in
``optax.inject_hyperparams`` (keywords that are not numbers static), and a schedule sets the
hyperparameters in ``state.hyperparams`` between steps (``Run.retune``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from radam_verify.adapters.script import Driver, literal

if TYPE_CHECKING:
    from radam_verify.adapters.optax_adapter import OptaxAdapter
    from radam_verify.suite.scenario import Scenario

IMPORTS = '''import importlib
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import optax  # noqa: E402
'''

RUN_CLASS = '''
jax.config.update("jax_enable_x64", DTYPE == "float64")


def array(values):
    return jax.numpy.asarray(np.asarray(values, dtype=np.float64).astype(DTYPE))


def flat(values):
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


def moments(state):
    """The node of the state with count, mu and nu."""
    if all(hasattr(state, name) for name in ("count", "mu", "nu")):
        return state
    for item in state if isinstance(state, tuple) else ():
        found = moments(item)
        if found is not None:
            return found
    return None


def replaced(state, new):
    if all(hasattr(state, name) for name in ("count", "mu", "nu")):
        return new
    if isinstance(state, tuple) and not hasattr(state, "_fields"):
        return tuple(replaced(item, new) for item in state)
    if hasattr(state, "inner_state"):  # inject_hyperparams' state
        return state._replace(inner_state=replaced(state.inner_state, new))
    if hasattr(state, "fast_state"):  # lookahead's LookaheadState
        return state._replace(fast_state=replaced(state.fast_state, new))
    return state


def build(cls, arguments):
    """The transformation of one group (optax.lookahead: around its inner one)."""
    if INJECT:  # the hyperparameters in the state; keywords that are not numbers static
        static = [k for k, v in KWARGS.items()
                  if isinstance(v, bool) or not isinstance(v, (int, float))]
        return optax.inject_hyperparams(cls, static_args=static)(**arguments, **KWARGS)
    if INNER is None:
        return cls(**arguments, **KWARGS)
    module, _, name = INNER.partition(":")
    inner = getattr(importlib.import_module(module), name)
    return cls(inner(**arguments, **KWARGS), **WRAPPER)


def fast(params):
    """theta: the parameters, or lookahead's fast weights."""
    return list(params.fast) if INNER is not None else params


class Run:
    """One transformation per group over the list of the group's parameters."""

    def __init__(self, cls, groups=None):
        self.cls, self.groups, self.sizes = cls, [], []
        for group in GROUPS if groups is None else groups:
            tx = build(cls, group["arguments"])
            params = [array(p) for p in group["params"]]
            if INNER is not None:  # fast and slow weights, started equal
                params = optax.LookaheadParams.init_synced(params)
            update = jax.jit(tx.update) if PATH == "jit" else tx.update
            self.groups.append({"entry": group, "tx": tx, "params": params,
                                "state": tx.init(params), "update": update, "grads": []})
            self.sizes.append([len(p) for p in group["params"]])

    def add_group(self, group):
        raise RuntimeError("optax has no groups added later")

    def retune(self, hypers):
        """Set the first groups' hyperparameters in state.hyperparams, as a schedule does."""
        for group, entry in zip(self.groups, hypers):
            held = group["state"].hyperparams
            new = {k: jax.numpy.asarray(v, dtype=held[k].dtype) for k, v in entry.items()}
            group["state"] = group["state"]._replace(hyperparams={**held, **new})

    def inject(self, start):
        for group, states in zip(self.groups, start):
            held = moments(group["state"])
            new = held._replace(count=jax.numpy.asarray(states[0]["t"], dtype=held.count.dtype),
                                mu=[array(s["m"]) for s in states],
                                nu=[array(s["v"]) for s in states])
            if hasattr(new, "nu_max"):  # amsgrad's running maximum: v where none is given
                new = new._replace(nu_max=[array(s["v"] if s.get("v_max") is None
                                                 else s["v_max"]) for s in states])
            group["state"] = replaced(group["state"], new)
            group["params"] = [array(s["theta"]) for s in states]
            if INNER is not None:  # slow weights from theta_0: a sync after every k-th step
                counter = group["state"].steps_since_sync
                group["state"] = group["state"]._replace(steps_since_sync=jax.numpy.asarray(
                    states[0]["t"] % WRAPPER["sync_period"], dtype=counter.dtype))
                group["params"] = optax.LookaheadParams(
                    fast=group["params"], slow=[array(s["theta"] if s.get("slow") is None
                                                      else s["slow"]) for s in states])

    def step(self, grads):
        for group, given in zip(self.groups, grads):
            arrays = [array(g) for g in given]
            group["grads"] = arrays
            updates, group["state"] = group["update"](arrays, group["state"], group["params"])
            group["params"] = optax.apply_updates(group["params"], updates)

    def read(self, g, p, quantity):
        group = self.groups[g]
        if quantity == "theta":
            return flat(fast(group["params"])[p])
        held = moments(group["state"])
        if quantity == "slow":  # optax.lookahead's slow weights
            return None if INNER is None else flat(group["params"].slow[p])
        if quantity == "v_max":  # amsgrad's running maximum of nu_hat
            found = getattr(held, "nu_max", None)
            return None if found is None else flat(found[p])
        return None if held is None else flat((held.mu if quantity == "m" else held.nu)[p])

    def copy(self, cls):
        return Run(cls, [{**group["entry"],
                          "params": [flat(p).tolist() for p in fast(group["params"])]}
                         for group in self.groups])

    def save(self):
        """The state, and lookahead's slow weights (parameters in optax) with it."""
        return pickle.dumps([(jax.device_get(group["state"]), None if INNER is None
                              else jax.device_get(group["params"].slow))
                             for group in self.groups])

    def load(self, saved):
        for group, (state, slow) in zip(self.groups, pickle.loads(saved)):
            group["state"] = jax.tree_util.tree_map(jax.numpy.asarray, state)
            if slow is not None:
                group["params"] = group["params"]._replace(
                    slow=[jax.numpy.asarray(x) for x in slow])

    def rounded(self, given):
        return flat(array(given))

    def grads(self):
        return [[flat(g) for g in group["grads"]] for group in self.groups]

    def hypers(self):
        return []
'''


def driver(adapter: OptaxAdapter, scenario: Scenario) -> Driver:
    """The optax driver for ``scenario`` on ``adapter``'s configuration."""
    from radam_verify.suite.scenario import scenario_json

    def entry(group: Any) -> dict[str, object]:
        return {"arguments": adapter.arguments(group.hyper),
                "params": [[float(x) for x in np.ravel(p)] for p in group.params]}

    text = "".join([
        literal("DTYPE", adapter.fmt.name, "the dtype of the parameters"),
        literal("PATH", scenario.path or "jit", "jit: update compiled with jax.jit; eager"),
        literal("INNER", None if adapter.inner is None else adapter.inner[0],
                "optax.lookahead's inner factory, MODULE:ATTR (None: no wrapper)"),
        literal("KWARGS", dict(adapter.kwargs if adapter.inner is None else adapter.inner[2]),
                "keywords beside each group's"),
        literal("WRAPPER", dict(adapter.wrapper_kwargs), "optax.lookahead's own keywords"),
        literal("INJECT", adapter.inject,
                "built with optax.inject_hyperparams: the hyperparameters in the state"),
        literal("GROUPS", [entry(g) for g in scenario.groups],
                "one transformation per group: its keywords and initial values"),
        literal("ADDED", [], "optax adds no groups later"),
        literal("START", scenario_json(scenario).get("start"),
                "the state injected into count/mu/nu before the first step (None: init)"),
    ])
    retuned = tuple((k, tuple(adapter.arguments(h) for h in hypers))
                    for k, hypers in scenario.retuned)
    return Driver("JAX, optax and numpy", IMPORTS, text, RUN_CLASS, retuned)
