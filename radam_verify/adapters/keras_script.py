"""The Keras part of a stand-alone reproduction script (see :mod:`radam_verify.adapters.script`).

The script drives the optimizer as the Keras adapter does: one optimizer per group,
``cls(learning_rate=, beta_1=, beta_2=, epsilon=, ...)`` with the names the adapter found,
``apply_gradients`` over the tensors that have a gradient (inside ``tf.function`` on the
``function`` path), the moments in the slots ``m`` and ``v``, ``iterations`` as the step
count, the state saved with ``tf.train.Checkpoint``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from radam_verify.adapters.script import Driver, literal

if TYPE_CHECKING:
    from radam_verify.adapters.keras_adapter import KerasAdapter
    from radam_verify.suite.scenario import Scenario

IMPORTS = '''import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
'''

RUN_CLASS = '''

def flat(values):
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


def constant(values):
    return tf.constant(np.asarray(values, dtype=np.float64).astype(DTYPE), dtype=DTYPE)


class Run:
    """One Keras optimizer per group over the group's tf.Variable parameters."""

    def __init__(self, cls, groups=None):
        self.cls, self.entries, self.groups = cls, GROUPS if groups is None else groups, []
        for group in self.entries:
            optimizer = cls(**group["arguments"], **KWARGS)
            variables = [tf.Variable(constant(p)) for p in group["params"]]
            if PATH == "function":  # tf.function creates variables on its first call only
                optimizer._create_all_weights(variables)

            def apply(pairs, optimizer=optimizer):
                optimizer.apply_gradients(pairs)
            self.groups.append({"optimizer": optimizer, "variables": variables, "grads": [],
                                "apply": tf.function(apply) if PATH == "function" else apply})
        self.sizes = [[len(p) for p in group["params"]] for group in self.entries]

    def add_group(self, group):
        raise RuntimeError("a Keras optimizer has no parameter groups")

    def slot(self, g, p, quantity):
        group = self.groups[g]
        try:
            return group["optimizer"].get_slot(group["variables"][p], quantity)
        except KeyError:  # not stepped yet: Keras creates the slot as zeros on its first step
            return None

    def inject(self, start):
        for group, states in zip(self.groups, start):
            group["optimizer"]._create_all_weights(group["variables"])
            group["optimizer"].iterations.assign(int(states[0]["t"]))
            for p, (variable, s) in enumerate(zip(group["variables"], states)):
                variable.assign(constant(s["theta"]))
                group["optimizer"].get_slot(variable, "m").assign(constant(s["m"]))
                group["optimizer"].get_slot(variable, "v").assign(constant(s["v"]))

    def step(self, grads):
        for group, given in zip(self.groups, grads):
            group["grads"] = [None if g is None else constant(g) for g in given]
            pairs = [(g, v) for g, v in zip(group["grads"], group["variables"]) if g is not None]
            if pairs:  # Keras refuses a call without gradients
                group["apply"](pairs)

    def read(self, g, p, quantity):
        if quantity == "theta":
            return flat(self.groups[g]["variables"][p].numpy())
        if quantity in ("v_max", "slow"):  # not read through Keras' slots
            return None
        held = self.slot(g, p, quantity)
        return np.zeros(self.sizes[g][p]) if held is None else flat(held.numpy())

    def copy(self, cls):
        return Run(cls, [{**entry, "params": [flat(v.numpy()).tolist() for v in group["variables"]]}
                         for entry, group in zip(self.entries, self.groups)])

    def checkpoint(self, group):
        return tf.train.Checkpoint(optimizer=group["optimizer"], params=group["variables"])

    def save(self):
        self.folder = tempfile.mkdtemp()
        return [self.checkpoint(group).write(os.path.join(self.folder, f"group{k}"))
                for k, group in enumerate(self.groups)]

    def load(self, saved):
        for group, path in zip(self.groups, saved):
            self.checkpoint(group).read(path)
            group["optimizer"]._create_all_weights(group["variables"])

    def rounded(self, given):
        return flat(constant(given).numpy())

    def grads(self):
        return [[None if g is None else flat(g.numpy()) for g in group["grads"]]
                for group in self.groups]

    def hypers(self):
        return [{k: v for k, v in group["optimizer"].get_config().items() if k != "name"}
                for group in self.groups]
'''


def driver(adapter: KerasAdapter, scenario: Scenario) -> Driver:
    """The Keras driver for ``scenario`` on ``adapter``'s configuration."""
    from radam_verify.suite.scenario import scenario_json

    def entry(group: Any) -> dict[str, object]:
        return {"arguments": adapter.arguments(group.hyper),
                "params": [[float(x) for x in np.ravel(p)] for p in group.params]}

    text = "".join([
        literal("DTYPE", adapter.fmt.name, "the dtype of the parameters"),
        literal("PATH", scenario.path or "function",
                "function: apply_gradients inside tf.function; eager"),
        literal("KWARGS", dict(adapter.kwargs), "keywords beside each group's"),
        literal("GROUPS", [entry(g) for g in scenario.groups],
                "one optimizer per group: its keywords and initial values"),
        literal("ADDED", [], "a Keras optimizer takes no groups later"),
        literal("START", scenario_json(scenario).get("start"),
                "the state injected into the slots m, v and iterations (None: fresh)"),
    ])
    return Driver("TensorFlow and numpy", IMPORTS, text, RUN_CLASS)
