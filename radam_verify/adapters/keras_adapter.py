"""Adapter for Keras optimizers on TensorFlow: ``tensorflow_addons.optimizers:RectifiedAdam``
and any subclass of Keras' ``OptimizerV2`` (``tf.keras.optimizers.legacy``, the optimizer API
of TensorFlow's Keras 2, which TensorFlow Addons builds on).

A Keras optimizer has no parameter groups: each group is an optimizer of its own,
constructed as a Keras user constructs one, ``cls(learning_rate=lr, beta_1=..., beta_2=...,
epsilon=..., weight_decay=..., **kwargs)`` (the names found in the constructor's signature),
over ``tf.Variable`` parameters. A step is ``apply_gradients(zip(grads, variables))`` with the
tensors that have a gradient; a group without any gradient on a step is not called (Keras
refuses an empty call), so the optimizer's one counter, ``iterations``, advances by calls
(layout counter ``call``). Code paths: ``function`` (the call inside ``tf.function``, as
``Model.fit`` and most training loops run it; every variable's slots are created before its
first call, since ``tf.function`` creates variables on its first call only) and ``eager``.

State: the slots ``m`` and ``v`` of each variable (``get_slot``) and ``iterations``; a
variable whose slots do not exist yet holds Keras' initial zeros. It is saved and loaded as
TensorFlow users save it, with ``tf.train.Checkpoint`` (slots that do not exist yet are
restored when Keras creates them; loading creates them at once). Injection creates the
slots (``_create_all_weights``, what Keras calls on the first step) and assigns them.
"""

from __future__ import annotations

import importlib
import inspect
import io
import os
import pickle
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from radam_verify.adapters.base import (
    Adapter,
    Capabilities,
    GroupSpec,
    Instance,
    ParamState,
    StepGrads,
    flat,
    flush_probe,
    flushes_on_paths,
    implementation_call,
    refuse_drawn,
    required,
)
from radam_verify.errors import ImplementationError, UsageError
from radam_verify.floats import Format
from radam_verify.hyper import Hyper
from radam_verify.layout import Layout, identify_moments

if TYPE_CHECKING:
    from radam_verify.adapters.script import Driver
    from radam_verify.suite.scenario import Scenario

PATHS = ("function", "eager")
#: the paper's names -> the constructor argument names Keras optimizers use, in order of
#: preference (the first one the signature accepts is taken)
CANDIDATES = {"lr": ("learning_rate", "lr"), "beta1": ("beta_1", "beta1", "b1"),
              "beta2": ("beta_2", "beta2", "b2"), "eps": ("epsilon", "eps"),
              "weight_decay": ("weight_decay", "wd")}
#: the slots that hold m and v, in order of preference
M_SLOTS, V_SLOTS = ("m", "momentum"), ("v", "velocity")
#: Keras' optimizer base classes: (top-level module, class name)
BASES = {("keras", "OptimizerV2"), ("tf_keras", "OptimizerV2"), ("tensorflow", "OptimizerV2")}
#: Keras' other optimizer bases, which this adapter does not drive yet
NEWER = {("keras", "Optimizer"), ("keras", "BaseOptimizer"), ("tf_keras", "Optimizer")}


def _bases(obj: Any) -> set[tuple[str, str]]:
    return {(str(base.__module__).split(".")[0], base.__name__)
            for base in getattr(obj, "__mro__", ())[1:]}


def is_keras(obj: Any) -> bool:
    """A subclass of a Keras optimizer base class (found without importing TensorFlow)."""
    return isinstance(obj, type) and bool(_bases(obj) & (BASES | NEWER))


def _tf() -> Any:
    """TensorFlow, imported untyped and quiet (it logs its CPU features on import)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = importlib.import_module("tensorflow")
    # tf.function's notes on retracing: each optimizer traces once per set of tensors stepped
    tf.get_logger().setLevel("ERROR")
    return tf


class KerasAdapter(Adapter):
    kind = "keras"

    def __init__(self, spec: str, cls: type, kwargs: Mapping[str, object], device: str,
                 fmt: Format, version: str) -> None:
        if not _bases(cls) & BASES:
            raise UsageError(f"{spec} is a Keras optimizer of the newer API (keras.optimizers."
                             "Optimizer); the Keras adapter drives tf.keras.optimizers.legacy "
                             "optimizers (OptimizerV2), such as tensorflow_addons.optimizers:"
                             "RectifiedAdam; verify another through the plain protocol")
        if device != "cpu":
            raise UsageError(f"--verify-device={device}: the Keras adapter verifies TensorFlow's "
                             "CPU kernels; use --verify-device=cpu")
        self.spec, self.cls, self.kwargs, self.fmt, self.version = (
            spec, cls, dict(kwargs), fmt, version)
        self.device = device
        self.tf = _tf()
        accepted = set(inspect.signature(cls).parameters)
        self.names = {ours: next((n for n in names if n in accepted), None)
                      for ours, names in CANDIDATES.items()}
        missing = [ours for ours, name in self.names.items()
                   if name is None and ours != "weight_decay"]
        if missing:
            raise UsageError(f"{spec}: its constructor takes no argument for {', '.join(missing)} "
                             f"(it takes {', '.join(sorted(accepted))}); the Keras adapter sets "
                             "RAdam's lr, betas and eps through the constructor")
        refuse_drawn(self.kwargs, [n for n in self.names.values() if n is not None])
        self._probe()
        self.state_layout = Layout("raw", "call")
        notes = {"maximize": f"{cls.__name__} takes no maximize",
                 "add_group": "a Keras optimizer has no parameter groups (each group is an "
                              "optimizer of its own)",
                 "closure": "a Keras optimizer applies given gradients; minimize(loss, var_list) "
                            "differentiates the loss itself",
                 "live_state": "a Keras optimizer's state is its variables, saved by "
                               "tf.train.Checkpoint; there is no state dict object to share",
                 "views": "tf.Variable has no strides: every parameter is a tensor of its own"}
        if self.names["weight_decay"] is None:
            notes["weight_decay"] = f"{cls.__name__} takes no weight decay"
        self.capabilities = Capabilities(
            read_state=True, inject_state=True, maximize=False,
            weight_decay=self.names["weight_decay"] is not None, groups=True, add_group=False,
            save_load=True, missing_grads=True, closure=False, live_state=False,
            code_paths={p: {"path": p} for p in PATHS}, notes=notes)

    def _probe(self) -> None:
        """Construct and step once: rejects bad keywords early, checks the slots hold raw
        moments."""
        hyper = Hyper(lr=1e-3)
        grad = [0.5, -0.25, 1.0]
        try:
            instance = self.open([GroupSpec(hyper, (np.linspace(-1.0, 1.0, 3),))], "eager")
            instance.step([[np.array(grad)]])
        except ImplementationError as error:
            raise UsageError(f"{self.spec} cannot be constructed and stepped with --verify-kwargs "
                             f"{self.kwargs}: {error}") from None
        names = instance.slot_names(0)
        if not any(n in names for n in M_SLOTS) or not any(n in names for n in V_SLOTS):
            raise UsageError(f"{self.spec}: its slots after a step are {', '.join(names)}; the "
                             "Keras adapter reads RAdam's moments from slots m and v")
        held = instance.read()[0][0]
        m, v = held.m, held.v
        if m is None or v is None or identify_moments(m.tolist(), v.tolist(), grad, hyper.beta1,
                            hyper.beta2) != "raw":
            raise UsageError(f"{self.spec}: its slots m and v after a first step hold neither m "
                             "nor v; the Keras adapter reads raw moments only")

    @property
    def hyperparameter_keys(self) -> list[str]:
        return [n for n in self.names.values() if n is not None]

    def arguments(self, hyper: Hyper) -> dict[str, object]:
        """One group's constructor keywords, in the optimizer's own names."""
        values = {"lr": hyper.lr, "beta1": hyper.beta1, "beta2": hyper.beta2, "eps": hyper.eps,
                  "weight_decay": hyper.weight_decay}
        return {name: values[ours] for ours, name in self.names.items() if name is not None}

    @property
    def framework(self) -> str:
        return f"tensorflow {self.tf.__version__}"

    def variable(self, values: np.ndarray) -> Any:
        return self.tf.Variable(np.asarray(values, dtype=self.fmt.numpy_type), dtype=self.fmt.name)

    def constant(self, values: np.ndarray) -> Any:
        return self.tf.constant(np.asarray(values, dtype=self.fmt.numpy_type), dtype=self.fmt.name)

    def platform_flushes(self) -> str | None:
        tf = self.tf

        def eager(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return flat(tf.multiply(self.constant(a), self.constant(b)).numpy())

        def function(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return flat(tf.function(tf.multiply)(self.constant(a), self.constant(b)).numpy())

        found = {path: flush_probe(multiply, self.fmt, "TensorFlow on the CPU")
                 for path, multiply in (("eager", eager), ("tf.function", function))}
        return flushes_on_paths(found)

    def script_driver(self, scenario: Scenario) -> Driver | None:
        from radam_verify.adapters.keras_script import driver

        return driver(self, scenario)

    def open(self, groups: Sequence[GroupSpec], path: str | None = None) -> KerasInstance:
        return KerasInstance(self, groups, path or "function")


class KerasInstance(Instance):
    def __init__(self, adapter: KerasAdapter, groups: Sequence[GroupSpec], path: str) -> None:
        self.adapter, self.tf, self.path = adapter, adapter.tf, path
        self.hypers = [g.hyper for g in groups]
        self.variables = [[adapter.variable(p) for p in g.params] for g in groups]
        self.shapes = [[np.shape(p) for p in g.params] for g in groups]
        self.optimizers = []
        for group in groups:
            with implementation_call(f"{adapter.cls.__name__}(...)"):
                optimizer = adapter.cls(**adapter.arguments(group.hyper), **adapter.kwargs)
                # the hyperparameter variables the first step creates (Keras creates them
                # lazily): what get_config reports no longer changes with that first step
                optimizer._create_hypers()
            self.optimizers.append(optimizer)
        if path == "function":
            # tf.function creates variables only on its first call, so a variable first
            # stepped on a later call could not get its slots there: they are created before
            # (zeros, as Keras creates them on a variable's first step)
            for k in range(len(groups)):
                self._create_slots(k)
        self.applies = [self._apply(k) for k in range(len(groups))]
        self.last: list[list[Any]] = [[None] * len(g.params) for g in groups]

    def _apply(self, k: int) -> Any:
        optimizer = self.optimizers[k]

        def apply(pairs: list[tuple[Any, Any]]) -> None:
            optimizer.apply_gradients(pairs)

        return self.tf.function(apply) if self.path == "function" else apply

    def slot_names(self, k: int) -> list[str]:
        return [str(n) for n in self.optimizers[k].get_slot_names()]

    def _slot(self, k: int, variable: Any, names: tuple[str, ...]) -> Any:
        """The variable's slot of one of ``names`` (None: not created yet)."""
        optimizer = self.optimizers[k]
        held = set(self.slot_names(k))
        for name in names:
            if name in held:
                try:
                    return optimizer.get_slot(variable, name)
                except KeyError:  # this variable has not been stepped yet
                    return None
        return None

    def step(self, grads: StepGrads) -> None:
        for k, (variables, group_grads) in enumerate(zip(self.variables, grads, strict=True)):
            pairs = [(self.adapter.constant(g), v)
                     for g, v in zip(group_grads, variables, strict=True) if g is not None]
            self.last[k] = [None if g is None else self.adapter.constant(g) for g in group_grads]
            if not pairs:  # Keras refuses a call without gradients; a user makes none
                continue
            with implementation_call("apply_gradients(...)"):
                self.applies[k](pairs)

    def read(self) -> list[list[ParamState]]:
        out = []
        for k, variables in enumerate(self.variables):
            t = int(self.optimizers[k].iterations.numpy())
            row = []
            for variable in variables:
                theta = flat(variable.numpy())
                m, v = self._slot(k, variable, M_SLOTS), self._slot(k, variable, V_SLOTS)
                # a slot not created yet: Keras creates it as zeros on the variable's first step
                row.append(ParamState(theta, np.zeros_like(theta) if m is None else flat(m.numpy()),
                                      np.zeros_like(theta) if v is None else flat(v.numpy()), t))
            out.append(row)
        return out

    def _create_slots(self, k: int) -> None:
        """Every variable's slots (and the hyperparameters), as the first step creates them."""
        with implementation_call("_create_all_weights(...)"):
            self.optimizers[k]._create_all_weights(self.variables[k])

    def inject(self, states: Sequence[Sequence[ParamState]]) -> None:
        a = self.adapter
        for k, group_states in enumerate(states):
            self._create_slots(k)
            self.optimizers[k].iterations.assign(int(group_states[0].t or 0))
            for variable, shape, state in zip(self.variables[k], self.shapes[k], group_states,
                                              strict=True):
                variable.assign(a.to_format(np.asarray(state.theta).reshape(shape)))
                for names, values in ((M_SLOTS, state.m), (V_SLOTS, state.v)):
                    self._slot(k, variable, names).assign(
                        a.to_format(np.asarray(required(values)).reshape(shape)))

    def _checkpoint(self, k: int) -> Any:
        return self.tf.train.Checkpoint(optimizer=self.optimizers[k], params=self.variables[k])

    def save(self) -> bytes:
        files = []
        for k in range(len(self.optimizers)):
            with tempfile.TemporaryDirectory() as folder:
                with implementation_call("tf.train.Checkpoint.write"):
                    self._checkpoint(k).write(str(Path(folder) / "state"))
                buffer = io.BytesIO()
                with tarfile.open(fileobj=buffer, mode="w") as archive:
                    archive.add(folder, arcname=".")
                files.append(buffer.getvalue())
        return pickle.dumps(files)

    def load(self, saved: bytes) -> None:
        files = pickle.loads(saved)  # written by save() above
        for k, blob in enumerate(files):
            with tempfile.TemporaryDirectory() as folder:
                with tarfile.open(fileobj=io.BytesIO(blob)) as archive:
                    archive.extractall(folder, filter="data")
                with implementation_call("tf.train.Checkpoint.read"):
                    status = self._checkpoint(k).read(str(Path(folder) / "state"))
                    self._create_slots(k)  # restores the saved slots into them
                    status.assert_existing_objects_matched()

    def grads(self) -> list[list[np.ndarray | None]]:
        return [[None if g is None else flat(g.numpy()) for g in group] for group in self.last]

    def hyperparameters(self) -> list[dict[str, object]]:
        out = []
        for optimizer in self.optimizers:
            config = optimizer.get_config()
            out.append({k: _plain(v) for k, v in config.items() if k != "name"})
        return out


def _plain(value: object) -> object:
    """A configuration value as a plain comparable value (a numpy scalar as a Python one)."""
    return value.item() if isinstance(value, np.generic) else value
