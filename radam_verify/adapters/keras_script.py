"""The Keras part of a stand-alone reproduction script (see :mod:`radam_verify.adapters.script`).

The script drives the optimizer as the Keras adapter does: one optimizer per group,
``cls(learning_rate=, beta_1=, beta_2=, epsilon=, ...)`` with the names the adapter found,
``apply_gradients`` over the tensors that have a gradient, ``iterations`` as the step count.
Keras 2 (``OptimizerV2`` on TensorFlow): inside ``tf.function`` on the ``function`` path,
the moments in the slots ``m`` and ``v``, the state saved with ``tf.train.Checkpoint``.
Keras 3 (on the backend the verdict ran on, which the script sets as ``KERAS_BACKEND``):
``keras.Variable`` parameters built with ``optimizer.build``, the moments in the slots Keras
names ``<variable path>_m`` (or ``_momentum``) and ``_v`` (or ``_velocity``), the state
saved with ``save_own_variables``; bfloat16 and float16 values are carried as float32,
exactly; hyperparameters a schedule sets between steps are set on the live optimizer
(``Run.retune``).
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


KERAS3_IMPORTS = '''import os

os.environ.setdefault("KERAS_BACKEND", {backend!r})

import keras  # noqa: E402
'''

KERAS3_RUN_CLASS = '''
#: the dtypes numpy has no arithmetic of its own for: their values travel as float32, exactly
NARROW = ("bfloat16", "float16")


def flat(values):
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


def carried(values):
    return np.asarray(values, dtype=np.float64).astype("float32" if DTYPE in NARROW else DTYPE)


def constant(values):
    return keras.ops.convert_to_tensor(carried(values), dtype=DTYPE)


def host(value):
    """A variable's or tensor's values as float64 (a narrow torch tensor widened first)."""
    if isinstance(value, keras.Variable):
        value = value.value
    if hasattr(value, "detach"):  # a torch tensor
        tensor = value.detach().cpu()
        return flat((tensor.float() if tensor.element_size() < 4 else tensor).numpy())
    return flat(keras.ops.convert_to_numpy(value))


class Run:
    """One Keras 3 optimizer per group over the group's keras.Variable parameters, built as
    Model.compile builds it."""

    def __init__(self, cls, groups=None):
        self.cls, self.entries, self.groups = cls, GROUPS if groups is None else groups, []
        for k, group in enumerate(self.entries):
            optimizer = cls(**group["arguments"], **KWARGS)
            variables = [keras.Variable(carried(p), dtype=DTYPE, name=f"g{k}_p{i}")
                         for i, p in enumerate(group["params"])]
            optimizer.build(variables)
            self.groups.append({"optimizer": optimizer, "variables": variables, "grads": []})
        self.sizes = [[len(p) for p in group["params"]] for group in self.entries]

    def add_group(self, group):
        raise RuntimeError("a Keras optimizer has no parameter groups")

    def slot(self, g, p, quantity):
        group = self.groups[g]
        prefix = group["variables"][p].path.replace("/", "_") + "_"
        held = {str(v.name)[len(prefix):]: v for v in group["optimizer"].variables
                if str(v.name).startswith(prefix)}
        names = {"m": ("m", "momentum"), "v": ("v", "velocity")}[quantity]
        return next((held[name] for name in names if name in held), None)

    def inject(self, start):
        for g, (group, states) in enumerate(zip(self.groups, start)):
            group["optimizer"].iterations.assign(int(states[0]["t"]))
            for p, (variable, s) in enumerate(zip(group["variables"], states)):
                variable.assign(carried(s["theta"]))
                self.slot(g, p, "m").assign(carried(s["m"]))
                self.slot(g, p, "v").assign(carried(s["v"]))

    def step(self, grads):
        for group, given in zip(self.groups, grads):
            group["grads"] = [None if g is None else constant(g) for g in given]
            pairs = [(g, v) for g, v in zip(group["grads"], group["variables"]) if g is not None]
            if pairs:  # Keras refuses a call without gradients
                group["optimizer"].apply_gradients(pairs)

    def read(self, g, p, quantity):
        if quantity == "theta":
            return host(self.groups[g]["variables"][p])
        if quantity in ("v_max", "slow"):  # not read through Keras' slots
            return None
        held = self.slot(g, p, quantity)
        return np.zeros(self.sizes[g][p]) if held is None else host(held)

    def copy(self, cls):
        return Run(cls, [{**entry, "params": [host(v).tolist() for v in group["variables"]]}
                         for entry, group in zip(self.entries, self.groups)])

    def save(self):
        return [{str(i): carried(host(v)) for i, v in enumerate(group["optimizer"].variables)}
                for group in self.groups]

    def load(self, saved):
        for group, store in zip(self.groups, saved):
            group["optimizer"].load_own_variables(store)

    def rounded(self, given):
        return host(constant(given))

    def grads(self):
        return [[None if g is None else host(g) for g in group["grads"]]
                for group in self.groups]

    def hypers(self):
        return [{k: v for k, v in group["optimizer"].get_config().items() if k != "name"}
                for group in self.groups]

    def retune(self, hypers):
        """Set each group's hyperparameters on its live optimizer, as a training loop does."""
        for group, arguments in zip(self.groups, hypers):
            for name, value in arguments.items():
                setattr(group["optimizer"], name, value)
'''


def driver(adapter: KerasAdapter, scenario: Scenario, backend: str | None = None) -> Driver:
    """The Keras driver for ``scenario`` on ``adapter``'s configuration: Keras 2's, or Keras
    3's on ``backend`` (its ``KERAS_BACKEND``)."""
    from radam_verify.suite.scenario import scenario_json

    def entry(group: Any) -> dict[str, object]:
        return {"arguments": adapter.arguments(group.hyper),
                "params": [[float(x) for x in np.ravel(p)] for p in group.params]}

    text = "".join([
        literal("DTYPE", adapter.fmt.name, "the dtype of the parameters"),
        "" if backend else literal("PATH", scenario.path or "function",
                                  "function: apply_gradients inside tf.function; eager"),
        literal("KWARGS", dict(adapter.kwargs), "keywords beside each group's"),
        literal("GROUPS", [entry(g) for g in scenario.groups],
                "one optimizer per group: its keywords and initial values"),
        literal("ADDED", [], "a Keras optimizer takes no groups later"),
        literal("START", scenario_json(scenario).get("start"),
                "the state injected into the slots m, v and iterations (None: fresh)"),
    ])
    if backend:
        retuned = tuple((k, tuple(adapter.arguments(h) for h in hypers))
                        for k, hypers in scenario.retuned)
        return Driver(f"Keras 3 on its {backend} backend and numpy",
                      KERAS3_IMPORTS.format(backend=backend), text, KERAS3_RUN_CLASS, retuned)
    return Driver("TensorFlow and numpy", IMPORTS, text, RUN_CLASS)
