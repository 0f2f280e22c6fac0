"""Adapter for optax gradient transformations such as ``optax:radam``, run by JAX on the CPU.

The factory is called as ``factory(learning_rate=lr, b1=beta1, b2=beta2, eps=eps,
**kwargs)``, once per parameter group; each group's parameters form one pytree (a list).
``float64`` turns on JAX's x64 mode. The moments are read from (and injected into) the
state's ``count``/``mu``/``nu`` fields (``ScaleByAdamState``). Code paths: ``jit`` (the
update compiled with ``jax.jit``, as users run it) and ``eager``. optax has no notion of a
missing gradient, maximize or, for ``radam``, weight decay: those properties are skipped.

``optax:lookahead`` wraps another factory named by ``inner`` (``{"inner": "optax:adam",
"sync_period": 6, "slow_step_size": 0.5}``; keywords ``lookahead`` does not take go to the
inner factory): its parameters are a ``LookaheadParams`` pair started synced
(``init_synced``), the fast weights are theta, the slow ones are read and injected beside
the moments (with ``steps_since_sync`` set from the step count), and a saved state keeps
the slow weights with the transformation's state, as a user's checkpoint keeps both.

``eps_root`` among the keywords (``{"eps_root": 1e-8}``, optax's constant inside the root,
``sqrt(nu_hat + eps_root) + eps``) is the reading's ``eps_root`` axis: identification gives
every candidate reading that value.

``{"inject_hyperparams": true}`` builds each group's transformation with
``optax.inject_hyperparams(factory)``, as users do who schedule more than the learning rate:
the hyperparameters then live in the state (``state.hyperparams``, arrays of the parameters'
precision), where a schedule sets them between steps, so the property of hyperparameters set
between steps runs (``Instance.retune``). Keywords that are not numbers (``nesterov``, a mask)
stay static arguments of the factory.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
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

if TYPE_CHECKING:
    from radam_verify.adapters.script import Driver
    from radam_verify.suite.scenario import Scenario

PATHS = ("jit", "eager")


class OptaxAdapter(Adapter):
    kind = "optax"

    def __init__(self, spec: str, factory: Callable[..., Any], kwargs: Mapping[str, object],
                 device: str, fmt: Format, version: str) -> None:
        if device != "cpu":
            raise UsageError(f"--verify-device={device}: optax runs on JAX's CPU backend here; "
                             "use --verify-device=cpu")
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        self.spec, self.factory, self.kwargs, self.fmt, self.version = (
            spec, factory, dict(kwargs), fmt, version)
        self.x64()
        self.device = device
        #: Lookahead: the inner factory, its keywords, and the wrapper's own keywords
        self.inner: tuple[str, Callable[..., Any], dict[str, object]] | None = None
        self.wrapper_kwargs: dict[str, object] = {}
        #: optax.inject_hyperparams around the factory: the hyperparameters live in the
        #: state, where a schedule sets them between steps
        self.inject = self.kwargs.pop("inject_hyperparams", False)
        if not isinstance(self.inject, bool):
            raise UsageError(f"--verify-kwargs 'inject_hyperparams' must be true or false, got "
                             f"{self.inject!r}")
        if "inner" in self.kwargs:
            if self.inject:
                raise UsageError("--verify-kwargs: 'inject_hyperparams' with optax.lookahead is "
                                 "not supported; verify the inner factory with it on its own")
            self.inner, self.wrapper_kwargs = _wrapped(factory, self.kwargs)
        #: lookahead's k and alpha (0 and 0.0 without Lookahead)
        self.sync_period = _number(self.wrapper_kwargs, "sync_period", int)
        self.slow_step_size = _number(self.wrapper_kwargs, "slow_step_size", float)
        accepted = set(inspect.signature(factory if self.inner is None
                                         else self.inner[1]).parameters)
        self._wd = "weight_decay" in accepted
        eps_root = (self.kwargs if self.inner is None else self.inner[2]).get("eps_root", 0.0)
        if isinstance(eps_root, bool) or not (isinstance(eps_root, int | float)
                                              and 0 <= eps_root < float("inf")):
            raise UsageError(f"--verify-kwargs 'eps_root' must be a finite number >= 0, got "
                             f"{eps_root!r}")
        refuse_drawn(self.kwargs, list(self.arguments(Hyper())))
        try:
            instance = OptaxInstance(self, [GroupSpec(Hyper(), (np.linspace(-1, 1, 3),))], "jit")
            instance.step([[np.full(3, 0.5)]])
            readable = instance.read()[0][0].m is not None
            # amsgrad's ScaleByAmsgradState: the running maximum of nu_hat in ``nu_max``
            maxima = readable and hasattr(_find_moments(instance.groups[0]["state"]), "nu_max")
        except ImplementationError as error:
            raise UsageError(f"{spec} is not an optax transformation factory taking "
                             f"(learning_rate, b1, b2, eps) with kwargs {dict(kwargs)}: "
                             f"{error}") from None
        notes = {"views": "JAX arrays have no strides: an update returns new arrays",
                 "maximize": "optax transformations minimize; there is no maximize option",
                 "missing_grads": "optax updates every leaf of the pytree on every step"}
        if not self._wd:
            notes["weight_decay"] = f"{spec} takes no weight_decay argument"
        if not self.inject:
            notes["retune"] = ("an optax transformation takes its hyperparameters when it is "
                               "built; with --verify-kwargs '{\"inject_hyperparams\": true}' "
                               "(optax.inject_hyperparams) they live in its state, where a "
                               "schedule sets them")
        self.capabilities = Capabilities(
            read_state=readable, inject_state=readable, max_state=maxima, maximize=False,
            slow_state=readable and self.inner is not None,
            weight_decay=self._wd,
            groups=True, add_group=False, save_load=True, missing_grads=False,
            retune=self.inject, eps_root=float(eps_root),
            code_paths={p: {"path": p} for p in PATHS}, notes=notes)

    def x64(self) -> None:
        """JAX's x64 mode as this adapter's dtype needs it: on for float64, off for float32.
        It is one global switch, so it is set again whenever an instance is opened or
        stepped (an adapter of the other dtype may have been used in between, in one
        process)."""
        jax = _module("jax")
        wanted = self.fmt.name == "float64"
        if bool(jax.config.jax_enable_x64) != wanted:
            jax.config.update("jax_enable_x64", wanted)

    @property
    def hyperparameter_keys(self) -> list[str]:
        return list(self.arguments(Hyper()))

    def arguments(self, hyper: Hyper) -> dict[str, object]:
        """A group's keywords in optax's names."""
        arguments: dict[str, object] = {"learning_rate": hyper.lr, "b1": hyper.beta1,
                                        "b2": hyper.beta2, "eps": hyper.eps}
        if self._wd:
            arguments["weight_decay"] = hyper.weight_decay
        return arguments

    def make(self, hyper: Hyper) -> Any:
        with implementation_call(f"{getattr(self.factory, '__name__', 'the factory')}(...)"):
            if self.inject:
                # keywords that are not numbers stay static: inject_hyperparams would make
                # arrays of the numeric ones, and a flag must stay a Python value under jit
                static = [k for k, v in self.kwargs.items()
                          if isinstance(v, bool) or not isinstance(v, int | float)]
                injected = _module("optax").inject_hyperparams(self.factory, static_args=static)
                return injected(**self.arguments(hyper), **self.kwargs)
            if self.inner is None:
                return self.factory(**self.arguments(hyper), **self.kwargs)
            _, inner, inner_kwargs = self.inner
            return self.factory(inner(**self.arguments(hyper), **inner_kwargs),
                                **self.wrapper_kwargs)

    def lookahead(self) -> tuple[Adapter | None, int, float] | None:
        """optax.lookahead's inner transformation's adapter, its sync_period and
        slow_step_size (both required by optax, given in the keywords)."""
        if self.inner is None:
            return None
        spec, inner, inner_kwargs = self.inner
        return (OptaxAdapter(spec, inner, inner_kwargs, self.device, self.fmt, self.version),
                self.sync_period, self.slow_step_size)

    @property
    def framework(self) -> str:
        return f"jax {_module('jax').__version__}"

    def platform_flushes(self) -> str | None:
        jax = _module("jax")
        dtype = self.fmt.numpy_type

        def eager(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.asarray(jax.numpy.multiply(a.astype(dtype), b.astype(dtype)), np.float64)

        def jitted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            found = jax.jit(jax.numpy.multiply)(a.astype(dtype), b.astype(dtype))
            return np.asarray(found, np.float64)

        found = {path: flush_probe(multiply, self.fmt, "XLA on the CPU")
                 for path, multiply in (("eager", eager), ("jax.jit", jitted))}
        return flushes_on_paths(found)

    def script_driver(self, scenario: Scenario) -> Driver | None:
        from radam_verify.adapters.optax_script import driver

        return driver(self, scenario)

    def open(self, groups: Sequence[GroupSpec], path: str | None = None) -> Instance:
        return OptaxInstance(self, groups, path or "jit")


def _find_moments(state: Any) -> Any:
    """The first node of the state tree with ``count``, ``mu`` and ``nu`` fields."""
    if all(hasattr(state, name) for name in ("count", "mu", "nu")):
        return state
    if isinstance(state, tuple):
        for item in state:
            found = _find_moments(item)
            if found is not None:
                return found
    return None


def _replace_moments(state: Any, new: Any) -> Any:
    if all(hasattr(state, name) for name in ("count", "mu", "nu")):
        return new
    if isinstance(state, tuple) and not hasattr(state, "_fields"):
        return tuple(_replace_moments(item, new) for item in state)
    if hasattr(state, "inner_state"):  # inject_hyperparams' state
        return state._replace(inner_state=_replace_moments(state.inner_state, new))
    if hasattr(state, "fast_state"):  # lookahead's LookaheadState
        return state._replace(fast_state=_replace_moments(state.fast_state, new))
    return state


def _number(kwargs: Mapping[str, object], key: str, kind: Callable[[Any], Any]) -> Any:
    """A wrapper keyword as a number (0 where it is not given)."""
    value = kwargs.get(key, 0)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"--verify-kwargs {key!r} must be a number, got {value!r}") from None


def _wrapped(factory: Callable[..., Any], kwargs: Mapping[str, object]
             ) -> tuple[tuple[str, Callable[..., Any], dict[str, object]], dict[str, object]]:
    """optax.lookahead's inner factory (``kwargs["inner"]``, ``MODULE:ATTR``) with the
    keywords the wrapper does not take, and the wrapper's own keywords."""
    from radam_verify.adapters import resolve

    spec = kwargs["inner"]
    inner = resolve(spec) if isinstance(spec, str) else None
    if not (callable(inner) and str(getattr(inner, "__module__", "")).startswith("optax")):
        raise UsageError(f"--verify-kwargs 'inner' must name an optax factory as MODULE:ATTR "
                         f"(e.g. \"optax:adam\"), got {spec!r}")
    own = list(inspect.signature(factory).parameters)[1:]  # after fast_optimizer
    wrapper = {k: v for k, v in kwargs.items() if k in own}
    rest = {k: v for k, v in kwargs.items() if k not in own and k != "inner"}
    return (str(spec), inner, rest), wrapper


class OptaxInstance(Instance):
    def __init__(self, adapter: OptaxAdapter, groups: Sequence[GroupSpec], path: str) -> None:
        jax = _module("jax")
        adapter.x64()
        self.adapter, self.path = adapter, path
        self.jax = jax
        self.groups: list[dict[str, Any]] = []
        for group in groups:
            tx = adapter.make(group.hyper)
            params: Any = [self._array(p) for p in group.params]
            if adapter.inner is not None:  # fast and slow weights, started equal
                params = _module("optax").LookaheadParams.init_synced(params)
            with implementation_call("init(params)"):
                update = jax.jit(tx.update) if path == "jit" else tx.update
                state = tx.init(params)
            self.groups.append({"tx": tx, "params": params, "state": state,
                                "update": update, "grads": [None] * len(params)})

    def _array(self, values: np.ndarray) -> Any:
        self.adapter.x64()
        return self.jax.numpy.asarray(self.adapter.to_format(values))

    def step(self, grads: StepGrads) -> None:
        optax = _module("optax")
        self.adapter.x64()
        for group, group_grads in zip(self.groups, grads, strict=True):
            if any(g is None for g in group_grads):
                raise UsageError("optax cannot leave a parameter without a gradient")
            arrays = [self._array(g) for g in group_grads if g is not None]
            group["grads"] = arrays
            with implementation_call("update(grads, state, params), apply_updates"):
                updates, group["state"] = group["update"](arrays, group["state"], group["params"])
                group["params"] = optax.apply_updates(group["params"], updates)

    def _fast(self, group: Mapping[str, Any]) -> list[Any]:
        """theta: the parameters, or lookahead's fast weights."""
        params = group["params"]
        return list(params.fast if self.adapter.inner is not None else params)

    def read(self) -> list[list[ParamState]]:
        out = []
        for group in self.groups:
            moments = _find_moments(group["state"])
            slow = group["params"].slow if self.adapter.inner is not None else None
            row = []
            for k, theta in enumerate(self._fast(group)):
                if moments is None:
                    row.append(ParamState(flat(theta)))
                else:
                    v_max = getattr(moments, "nu_max", None)
                    row.append(ParamState(flat(theta), flat(moments.mu[k]), flat(moments.nu[k]),
                                          int(moments.count),
                                          v_max=None if v_max is None else flat(v_max[k]),
                                          slow=None if slow is None else flat(slow[k])))
            out.append(row)
        return out

    def inject(self, states: Sequence[Sequence[ParamState]]) -> None:
        jnp = self.jax.numpy
        for group, group_states in zip(self.groups, states, strict=True):
            moments = _find_moments(group["state"])
            t = group_states[0].t
            new = moments._replace(
                count=jnp.asarray(t, dtype=moments.count.dtype),
                mu=[self._array(required(s.m)) for s in group_states],
                nu=[self._array(required(s.v)) for s in group_states])
            if hasattr(new, "nu_max"):  # amsgrad's maximum: v where none is given
                new = new._replace(nu_max=[self._array(required(s.v) if s.v_max is None
                                                       else s.v_max)
                                           for s in group_states])
            group["state"] = _replace_moments(group["state"], new)
            fast = [self._array(s.theta) for s in group_states]
            if self.adapter.inner is None:
                group["params"] = fast
                continue
            # slow weights from theta_0 (init_synced): a sync after every k-th step
            period = self.adapter.sync_period
            group["state"] = group["state"]._replace(steps_since_sync=jnp.asarray(
                t % period, dtype=group["state"].steps_since_sync.dtype))
            group["params"] = _module("optax").LookaheadParams(
                fast=fast, slow=[self._array(s.theta if s.slow is None else s.slow)
                                 for s in group_states])

    def save(self) -> bytes:
        """The transformation's state (and lookahead's slow weights, which a user's
        checkpoint keeps with it: they are parameters, not state, in optax)."""
        with implementation_call("pickling the state"):
            return pickle.dumps([
                (self.jax.device_get(g["state"]),
                 None if self.adapter.inner is None else self.jax.device_get(g["params"].slow))
                for g in self.groups])

    def load(self, saved: bytes) -> None:
        with implementation_call("unpickling the state"):
            states = pickle.loads(saved)
        asarray = self.jax.numpy.asarray
        for group, (state, slow) in zip(self.groups, states, strict=True):
            group["state"] = self.jax.tree_util.tree_map(asarray, state)
            if slow is not None:
                group["params"] = group["params"]._replace(slow=[asarray(x) for x in slow])

    def grads(self) -> list[list[np.ndarray | None]]:
        return [[flat(g) for g in group["grads"]] for group in self.groups]

    def retune(self, hypers: Sequence[Hyper]) -> None:
        """Set the first groups' hyperparameters in ``state.hyperparams``
        (optax.inject_hyperparams), each as an array of the dtype it holds there."""
        jnp = self.jax.numpy
        for group, hyper in zip(self.groups, hypers, strict=False):
            held = group["state"].hyperparams
            new = {k: jnp.asarray(v, dtype=held[k].dtype)
                   for k, v in self.adapter.arguments(hyper).items()}
            group["state"] = group["state"]._replace(hyperparams={**held, **new})


def _module(name: str) -> Any:
    """JAX and optax, imported untyped (they are optional and carry no complete stubs)."""
    return importlib.import_module(name)
