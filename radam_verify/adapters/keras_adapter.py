"""Adapter for Keras optimizers: Keras 2's ``OptimizerV2`` on TensorFlow
(``tensorflow_addons.optimizers:RectifiedAdam``, ``tf.keras.optimizers.legacy``) and Keras 3's
optimizers on any backend (``keras.optimizers.Optimizer`` subclasses).

A Keras optimizer has no parameter groups: each group is an optimizer of its own,
constructed as a Keras user constructs one, ``cls(learning_rate=lr, beta_1=..., beta_2=...,
epsilon=..., weight_decay=..., **kwargs)`` (the names found in the constructor's signature),
over Keras variables. A step is ``apply_gradients(zip(grads, variables))`` with the tensors
that have a gradient; a group without any gradient on a step is not called (Keras refuses an
empty call), so the optimizer's one counter, ``iterations``, advances by calls (layout
counter ``call``). Keras 2's code paths: ``function`` (the call inside ``tf.function``, as
``Model.fit`` and most training loops run it; every variable's slots are created before its
first call, since ``tf.function`` creates variables on its first call only) and ``eager``;
Keras 3's: ``eager`` on the backend ``KERAS_BACKEND`` names.

State: the slots ``m`` and ``v`` (or ``momentum`` and ``velocity``) of each variable and
``iterations``; a variable whose slots do not exist yet holds Keras' initial zeros. How the
two APIs create, find, save and load them is in :class:`_Legacy` and :class:`_Keras3`.
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
    carried,
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

#: the paper's names -> the constructor argument names Keras optimizers use, in order of
#: preference (the first one the signature accepts is taken)
CANDIDATES = {"lr": ("learning_rate", "lr"), "beta1": ("beta_1", "beta1", "b1"),
              "beta2": ("beta_2", "beta2", "b2"), "eps": ("epsilon", "eps"),
              "weight_decay": ("weight_decay", "wd")}
#: the slots that hold m and v, in order of preference
M_SLOTS, V_SLOTS = ("m", "momentum"), ("v", "velocity")
#: Keras 2's optimizer base class (TensorFlow's tf.keras, TensorFlow Addons): (top-level module,
#: class name)
LEGACY = {("keras", "OptimizerV2"), ("tf_keras", "OptimizerV2"), ("tensorflow", "OptimizerV2")}
#: Keras 3's optimizer base class, on every backend
KERAS3 = {("keras", "BaseOptimizer")}
#: Keras 2's newer optimizer API (``keras.optimizers.Optimizer`` in TensorFlow 2.11 to 2.15),
#: which this adapter does not drive (it has no RAdam)
NEWER = {("keras", "Optimizer"), ("tf_keras", "Optimizer")}


def _bases(obj: Any) -> set[tuple[str, str]]:
    return {(str(base.__module__).split(".")[0], base.__name__)
            for base in getattr(obj, "__mro__", ())[1:]}


def is_keras(obj: Any) -> bool:
    """A subclass of a Keras optimizer base class (found without importing TensorFlow)."""
    return isinstance(obj, type) and bool(_bases(obj) & (LEGACY | KERAS3 | NEWER))


def is_keras3(obj: Any) -> bool:
    """A subclass of Keras 3's optimizer base class."""
    return isinstance(obj, type) and bool(_bases(obj) & KERAS3)


def _tf() -> Any:
    """TensorFlow, imported untyped and quiet (it logs its CPU features on import)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = importlib.import_module("tensorflow")
    # tf.function's notes on retracing: each optimizer traces once per set of tensors stepped
    tf.get_logger().setLevel("ERROR")
    return tf


class _Legacy:
    """Keras 2's ``OptimizerV2`` on TensorFlow: ``tf.Variable`` parameters, slots by
    ``get_slot``, created by ``_create_all_weights`` (what the first step calls), state saved
    with ``tf.train.Checkpoint``; code paths ``function`` (inside ``tf.function``) and
    ``eager``."""

    paths = ("function", "eager")

    def __init__(self, fmt: Format) -> None:
        self.tf, self.fmt = _tf(), fmt

    @property
    def framework(self) -> str:
        return f"tensorflow {self.tf.__version__}"

    def variable(self, values: np.ndarray, name: str) -> Any:
        del name
        return self.tf.Variable(np.asarray(values, dtype=self.fmt.numpy_type), dtype=self.fmt.name)

    def constant(self, values: np.ndarray) -> Any:
        return self.tf.constant(np.asarray(values, dtype=self.fmt.numpy_type), dtype=self.fmt.name)

    def host(self, value: Any) -> np.ndarray:
        """A variable's or tensor's value as a numpy array."""
        return np.asarray(value.numpy())

    def prepare(self, optimizer: Any, variables: list[Any], path: str) -> None:
        """Right after construction: the hyperparameter variables the first step creates
        (lazily, in Keras 2), so that what get_config reports does not change with that step;
        on the ``function`` path every slot as well, since tf.function creates variables on
        its first call only (zeros, as Keras creates them on a variable's first step)."""
        optimizer._create_hypers()
        if path == "function":
            self.create_slots(optimizer, variables)

    def create_slots(self, optimizer: Any, variables: list[Any]) -> None:
        with implementation_call("_create_all_weights(...)"):
            optimizer._create_all_weights(variables)

    def slot_names(self, optimizer: Any, variables: list[Any]) -> list[str]:
        del variables
        return [str(n) for n in optimizer.get_slot_names()]

    def slot(self, optimizer: Any, variable: Any, names: tuple[str, ...]) -> Any:
        """The variable's slot of one of ``names`` (None: not created yet)."""
        held = set(optimizer.get_slot_names())
        for name in names:
            if name in held:
                try:
                    return optimizer.get_slot(variable, name)
                except KeyError:  # this variable has not been stepped yet
                    return None
        return None

    def apply(self, optimizer: Any, path: str) -> Any:
        def apply(pairs: list[tuple[Any, Any]]) -> None:
            optimizer.apply_gradients(pairs)

        return self.tf.function(apply) if path == "function" else apply

    def save(self, optimizer: Any, variables: list[Any]) -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            with implementation_call("tf.train.Checkpoint.write"):
                self.tf.train.Checkpoint(optimizer=optimizer, params=variables).write(
                    str(Path(folder) / "state"))
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as archive:
                archive.add(folder, arcname=".")
            return buffer.getvalue()

    def load(self, optimizer: Any, variables: list[Any], saved: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
                archive.extractall(folder, filter="data")
            with implementation_call("tf.train.Checkpoint.read"):
                status = self.tf.train.Checkpoint(optimizer=optimizer, params=variables).read(
                    str(Path(folder) / "state"))
                self.create_slots(optimizer, variables)  # restores the saved slots into them
                status.assert_existing_objects_matched()

    def multiplies(self) -> dict[str, Any]:
        tf = self.tf

        def eager(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return flat(tf.multiply(self.constant(a), self.constant(b)).numpy())

        def function(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return flat(tf.function(tf.multiply)(self.constant(a), self.constant(b)).numpy())

        return {"eager": eager, "tf.function": function}


class _Keras3:
    """Keras 3 on its configured backend (``KERAS_BACKEND``): ``keras.Variable`` parameters,
    built with ``optimizer.build`` (as ``Model.compile`` does, so that a variable first
    stepped later is known), slots found by the name Keras gives them
    (``<variable path>_<slot>``), state saved with ``save_own_variables`` /
    ``load_own_variables`` (what ``Model.save`` calls); one code path, eager. On the jax
    backend float64 parameters need JAX's x64 mode (without it a float64 variable is
    float32), which is set as a user of float64 sets it, before any variable is made."""

    paths = ("eager",)

    def __init__(self, fmt: Format) -> None:
        self.keras, self.fmt = importlib.import_module("keras"), fmt
        self.x64()

    def x64(self) -> None:
        """On the jax backend, JAX's x64 mode on for float64 parameters and off otherwise
        (one global switch, set again whenever a variable is made: an adapter of another
        dtype may have run in between, in one process)."""
        if self.keras.backend.backend() != "jax":
            return
        jax = importlib.import_module("jax")
        wanted = self.fmt.name == "float64"
        if bool(jax.config.jax_enable_x64) != wanted:
            jax.config.update("jax_enable_x64", wanted)

    @property
    def framework(self) -> str:
        backend = self.keras.backend.backend()
        module = importlib.import_module(backend)
        return f"keras {self.keras.__version__}, {backend} {module.__version__}"

    def variable(self, values: np.ndarray, name: str) -> Any:
        self.x64()
        return self.keras.Variable(carried(self.fmt, values), dtype=self.fmt.name, name=name)

    def constant(self, values: np.ndarray) -> Any:
        self.x64()
        return self.keras.ops.convert_to_tensor(carried(self.fmt, values), dtype=self.fmt.name)

    def host(self, value: Any) -> np.ndarray:
        """A variable's or tensor's value as a numpy array, through the backend tensor (on the
        torch backend Keras converts with np.array(tensor), which warns under numpy 2, and
        numpy has no bfloat16: a narrow torch tensor is widened to float32, exactly)."""
        if isinstance(value, self.keras.Variable):
            value = value.value
        if hasattr(value, "detach"):  # a torch tensor
            tensor = value.detach().cpu()
            if tensor.is_floating_point() and tensor.element_size() < 4:
                tensor = tensor.float()
            return np.asarray(tensor.numpy())
        return np.asarray(self.keras.ops.convert_to_numpy(value))

    def prepare(self, optimizer: Any, variables: list[Any], path: str) -> None:
        del path
        self.create_slots(optimizer, variables)

    def create_slots(self, optimizer: Any, variables: list[Any]) -> None:
        if not optimizer.built:
            with implementation_call("build(...)"):
                optimizer.build(variables)

    def _slots(self, optimizer: Any, variable: Any) -> dict[str, Any]:
        prefix = variable.path.replace("/", "_") + "_"
        return {str(v.name)[len(prefix):]: v for v in optimizer.variables
                if str(v.name).startswith(prefix)}

    def slot_names(self, optimizer: Any, variables: list[Any]) -> list[str]:
        return sorted({name for v in variables for name in self._slots(optimizer, v)})

    def slot(self, optimizer: Any, variable: Any, names: tuple[str, ...]) -> Any:
        held = self._slots(optimizer, variable)
        return next((held[name] for name in names if name in held), None)

    def apply(self, optimizer: Any, path: str) -> Any:
        del path
        return optimizer.apply_gradients

    def save(self, optimizer: Any, variables: list[Any]) -> bytes:
        del variables
        # save_own_variables' store, {str(i): value} over optimizer.variables, read through
        # host() (save_own_variables converts with np.array, which warns under numpy 2 on the
        # torch backend); load_own_variables reads it back
        with implementation_call("optimizer.variables"):
            store = {str(i): self.host(v) for i, v in enumerate(optimizer.variables)}
        return pickle.dumps(store)

    def load(self, optimizer: Any, variables: list[Any], saved: bytes) -> None:
        self.create_slots(optimizer, variables)
        with implementation_call("load_own_variables"):
            optimizer.load_own_variables(pickle.loads(saved))  # written by save() above

    def multiplies(self) -> dict[str, Any]:
        ops = self.keras.ops

        def eager(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return flat(self.host(ops.multiply(self.constant(a), self.constant(b))))

        return {"eager": eager}


class KerasAdapter(Adapter):
    kind = "keras"

    def __init__(self, spec: str, cls: type, kwargs: Mapping[str, object], device: str,
                 fmt: Format, version: str) -> None:
        bases = _bases(cls)
        if not bases & (LEGACY | KERAS3):
            raise UsageError(f"{spec} is an optimizer of Keras 2's newer API (keras.optimizers."
                             "Optimizer before Keras 3); the Keras adapter drives Keras 2's "
                             "tf.keras.optimizers.legacy optimizers (OptimizerV2, such as "
                             "tensorflow_addons.optimizers:RectifiedAdam) and Keras 3's; verify "
                             "another through the plain protocol")
        if device != "cpu":
            raise UsageError(f"--verify-device={device}: the Keras adapter verifies the CPU "
                             "kernels; use --verify-device=cpu")
        self.spec, self.cls, self.kwargs, self.fmt, self.version = (
            spec, cls, dict(kwargs), fmt, version)
        self.device = device
        self.flavour: _Legacy | _Keras3 = _Legacy(fmt) if bases & LEGACY else _Keras3(fmt)
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
        saved = ("tf.train.Checkpoint" if isinstance(self.flavour, _Legacy)
                 else "save_own_variables")
        notes = {"maximize": f"{cls.__name__} takes no maximize",
                 "add_group": "a Keras optimizer has no parameter groups (each group is an "
                              "optimizer of its own)",
                 "closure": "a Keras optimizer applies given gradients; it does not "
                            "differentiate a loss of its own",
                 "live_state": f"a Keras optimizer's state is its variables, saved by {saved}; "
                               "there is no state dict object to share",
                 "views": "a Keras variable has no strides: every parameter is a tensor of "
                          "its own"}
        if self.names["weight_decay"] is None:
            notes["weight_decay"] = f"{cls.__name__} takes no weight decay"
        keras3 = isinstance(self.flavour, _Keras3)
        if not keras3:
            notes["retune"] = ("Keras 2's optimizers keep some hyperparameters as attributes "
                               "that tf.function captures when it traces; the adapter sets "
                               "hyperparameters between steps in Keras 3's optimizers only")
        self.capabilities = Capabilities(
            read_state=True, inject_state=True, maximize=False,
            weight_decay=self.names["weight_decay"] is not None, groups=True, add_group=False,
            save_load=True, missing_grads=True, closure=False, live_state=False,
            retune=keras3, code_paths={p: {"path": p} for p in self.flavour.paths},
            notes=notes)

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
                             "Keras adapter reads RAdam's moments from slots m (or momentum) "
                             "and v (or velocity)")
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
        return self.flavour.framework

    def platform_flushes(self) -> str | None:
        where = ("TensorFlow on the CPU" if isinstance(self.flavour, _Legacy)
                 else f"Keras' {self.flavour.keras.backend.backend()} backend on the CPU")
        return flushes_on_paths({path: flush_probe(multiply, self.fmt, where)
                                 for path, multiply in self.flavour.multiplies().items()})

    def script_driver(self, scenario: Scenario) -> Driver | None:
        from radam_verify.adapters.keras_script import driver

        keras3 = self.flavour if isinstance(self.flavour, _Keras3) else None
        return driver(self, scenario, None if keras3 is None else str(keras3.keras.backend.backend()))

    def open(self, groups: Sequence[GroupSpec], path: str | None = None) -> KerasInstance:
        return KerasInstance(self, groups, path or self.flavour.paths[0])


class KerasInstance(Instance):
    def __init__(self, adapter: KerasAdapter, groups: Sequence[GroupSpec], path: str) -> None:
        self.adapter, self.flavour, self.path = adapter, adapter.flavour, path
        self.variables = [[self.flavour.variable(p, f"g{k}_p{i}") for i, p in enumerate(g.params)]
                          for k, g in enumerate(groups)]
        self.shapes = [[np.shape(p) for p in g.params] for g in groups]
        self.optimizers = []
        for group, variables in zip(groups, self.variables, strict=True):
            with implementation_call(f"{adapter.cls.__name__}(...)"):
                optimizer = adapter.cls(**adapter.arguments(group.hyper), **adapter.kwargs)
                self.flavour.prepare(optimizer, variables, path)
            self.optimizers.append(optimizer)
        self.applies = [self.flavour.apply(o, path) for o in self.optimizers]
        self.last: list[list[Any]] = [[None] * len(g.params) for g in groups]

    def slot_names(self, k: int) -> list[str]:
        return self.flavour.slot_names(self.optimizers[k], self.variables[k])

    def step(self, grads: StepGrads) -> None:
        for k, (variables, group_grads) in enumerate(zip(self.variables, grads, strict=True)):
            self.last[k] = [None if g is None else self.flavour.constant(g) for g in group_grads]
            pairs = [(g, v) for g, v in zip(self.last[k], variables, strict=True) if g is not None]
            if not pairs:  # Keras refuses a call without gradients; a user makes none
                continue
            with implementation_call("apply_gradients(...)"):
                self.applies[k](pairs)

    def read(self) -> list[list[ParamState]]:
        out = []
        for optimizer, variables in zip(self.optimizers, self.variables, strict=True):
            host = self.flavour.host
            t = int(host(optimizer.iterations))
            row = []
            for variable in variables:
                theta = flat(host(variable))
                m = self.flavour.slot(optimizer, variable, M_SLOTS)
                v = self.flavour.slot(optimizer, variable, V_SLOTS)
                # a slot not created yet: Keras creates it as zeros on the variable's first step
                row.append(ParamState(theta, np.zeros_like(theta) if m is None else flat(host(m)),
                                      np.zeros_like(theta) if v is None else flat(host(v)), t))
            out.append(row)
        return out

    def inject(self, states: Sequence[Sequence[ParamState]]) -> None:
        a = self.adapter
        for optimizer, variables, shapes, group_states in zip(
                self.optimizers, self.variables, self.shapes, states, strict=True):
            counts = {int(state.t or 0) for state in group_states}
            if len(counts) != 1:
                raise UsageError("a Keras optimizer has one step count (iterations) for all "
                                 "of its tensors")
            self.flavour.create_slots(optimizer, variables)
            optimizer.iterations.assign(counts.pop())
            for variable, shape, state in zip(variables, shapes, group_states, strict=True):
                variable.assign(carried(a.fmt, np.asarray(state.theta).reshape(shape)))
                for names, values in ((M_SLOTS, state.m), (V_SLOTS, state.v)):
                    self.flavour.slot(optimizer, variable, names).assign(
                        carried(a.fmt, np.asarray(required(values)).reshape(shape)))

    def save(self) -> bytes:
        return pickle.dumps([self.flavour.save(o, vs)
                             for o, vs in zip(self.optimizers, self.variables, strict=True)])

    def load(self, saved: bytes) -> None:
        held = pickle.loads(saved)  # written by save() above
        for optimizer, variables, blob in zip(self.optimizers, self.variables, held, strict=True):
            self.flavour.load(optimizer, variables, blob)

    def grads(self) -> list[list[np.ndarray | None]]:
        return [[None if g is None else flat(self.flavour.host(g)) for g in group]
                for group in self.last]

    def hyperparameters(self) -> list[dict[str, object]]:
        return [{k: _plain(v) for k, v in optimizer.get_config().items() if k != "name"}
                for optimizer in self.optimizers]

    def retune(self, hypers: Sequence[Hyper]) -> None:
        """Set the first groups' hyperparameters on their live optimizers, as a callback
        or a training loop sets them on a Keras 3 optimizer: ``optimizer.learning_rate =``
        (which assigns its variable) and the attributes ``beta_1``, ``beta_2``, ``epsilon``
        and ``weight_decay`` that every step reads."""
        for optimizer, hyper in zip(self.optimizers, hypers, strict=False):
            for name, value in self.adapter.arguments(hyper).items():
                with implementation_call(f"{type(optimizer).__name__}.{name} = {value!r}"):
                    setattr(optimizer, name, value)


def _plain(value: object) -> object:
    """A configuration value as a plain comparable value (a numpy scalar as a Python one)."""
    return value.item() if isinstance(value, np.generic) else value
