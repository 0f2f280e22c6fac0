"""The plain-object protocol: verify anything callable from Python over numpy arrays.

A class (or factory) ``Impl`` is verified as follows; this is how a C++ or CUDA kernel
with Python bindings takes part::

    impl = Impl(lr=..., beta1=..., beta2=..., eps=..., weight_decay=..., **kwargs)
    state = impl.init(theta)          # theta: 1-D numpy array in the dtype under test
    state = impl.step(state, grad)    # grad: 1-D numpy array; returns the new state

Required: ``state.theta`` (the parameters). Optional, each enabling more properties:
``state.m``, ``state.v`` and ``state.t`` (the state can be read), ``impl.state_at(theta,
m, v, t)`` (a state injected at step t, e.g. 10^7), a ``maximize`` constructor keyword, a
``weight_decay`` keyword (without it, weight decay is not tested), for AMSGrad ``state.v_max``
(its running maximum) with ``impl.state_at(theta, m, v, t, v_max=...)``, for Lookahead
``state.slow`` (its slow weights) with ``state_at(..., slow=...)``, and a class attribute
``CODE_PATHS = {"name": {constructor keywords}}`` naming alternative code paths.
Saving and loading pickles the state object, so a state must carry everything ``step``
needs. One ``impl`` is constructed per parameter group; each tensor has its own state.
"""

from __future__ import annotations

import inspect
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


class ProtocolAdapter(Adapter):
    kind = "protocol"

    def __init__(self, spec: str, factory: Callable[..., Any], kwargs: Mapping[str, object],
                 device: str, fmt: Format, version: str) -> None:
        if device != "cpu":
            raise UsageError(f"--verify-device={device}: a plain-object implementation runs where it "
                             "runs; use --verify-device=cpu")
        self.spec, self.factory, self.kwargs, self.fmt, self.version = (
            spec, factory, dict(kwargs), fmt, version)
        self.device = device
        accepted = _keywords(factory)
        self._accepts = accepted
        refuse_drawn(self.kwargs, list(self.arguments(Hyper())))
        probe = self._probe(self.kwargs)
        state = probe[1]
        readable = all(hasattr(state, name) for name in ("m", "v", "t"))
        injectable = readable and callable(getattr(probe[0], "state_at", None))
        at = _keywords(probe[0].state_at) if injectable else set()
        self._max = injectable and hasattr(state, "v_max") and "v_max" in at
        self._slow = injectable and hasattr(state, "slow") and "slow" in at
        paths = {name: {**self.kwargs, **extra}
                 for name, extra in dict(getattr(factory, "CODE_PATHS", {}) or {}).items()}
        notes = {"views": "the plain protocol passes each parameter as a contiguous numpy array"}
        if not readable:
            notes["read_state"] = "the state has no m, v and t attributes"
        if not injectable:
            notes["inject_state"] = "the implementation has no state_at(theta, m, v, t)"
        if "maximize" not in accepted:
            notes["maximize"] = "the constructor takes no 'maximize' keyword"
        if "weight_decay" not in accepted:
            notes["weight_decay"] = "the constructor takes no 'weight_decay' keyword"
        self.capabilities = Capabilities(
            read_state=readable, inject_state=injectable, max_state=self._max,
            slow_state=self._slow,
            maximize="maximize" in accepted,
            weight_decay="weight_decay" in accepted, groups=True, add_group=True,
            save_load=True, code_paths=paths, notes=notes)

    @property
    def hyperparameter_keys(self) -> list[str]:
        return list(self.arguments(Hyper()))

    def arguments(self, hyper: Hyper) -> dict[str, object]:
        """A group's constructor keywords in the protocol's names."""
        arguments: dict[str, object] = {"lr": hyper.lr, "beta1": hyper.beta1,
                                        "beta2": hyper.beta2, "eps": hyper.eps}
        if "weight_decay" in self._accepts:
            arguments["weight_decay"] = hyper.weight_decay
        if "maximize" in self._accepts:
            arguments["maximize"] = hyper.maximize
        return arguments

    def make(self, hyper: Hyper, kwargs: Mapping[str, object]) -> Any:
        with implementation_call(f"{getattr(self.factory, '__name__', 'the factory')}(...)"):
            return self.factory(**self.arguments(hyper), **kwargs)

    def script_driver(self, scenario: Scenario) -> Driver | None:
        from radam_verify.adapters.protocol_script import driver

        return driver(self, scenario)

    def _probe(self, kwargs: Mapping[str, object]) -> tuple[Any, Any]:
        try:
            impl = self.make(Hyper(), kwargs)
            with implementation_call("init(theta), step(state, grad)"):
                state = impl.init(np.linspace(-1.0, 1.0, 3).astype(self.fmt.numpy_type))
                state = impl.step(state, np.full(3, 0.5, dtype=self.fmt.numpy_type))
                np.asarray(state.theta)
        except ImplementationError as error:
            raise UsageError(f"{self.spec} does not follow the init/step protocol with kwargs "
                             f"{dict(kwargs)}: {error}") from None
        return impl, state

    def open(self, groups: Sequence[GroupSpec], path: str | None = None) -> Instance:
        kwargs = self.capabilities.code_paths[path] if path else self.kwargs
        return ProtocolInstance(self, groups, kwargs)


def _keywords(factory: Callable[..., Any]) -> set[str]:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return set()
    return set(parameters)


class ProtocolInstance(Instance):
    def __init__(self, adapter: ProtocolAdapter, groups: Sequence[GroupSpec],
                 kwargs: Mapping[str, object]) -> None:
        self.adapter, self.kwargs = adapter, kwargs
        self.impls: list[Any] = []
        self.states: list[list[Any]] = []
        self.last_grads: list[list[np.ndarray | None]] = []
        for group in groups:
            self.add_group(group)

    def add_group(self, group: GroupSpec) -> None:
        impl = self.adapter.make(group.hyper, self.kwargs)
        self.impls.append(impl)
        initial = [self.adapter.to_format(p) for p in group.params]
        with implementation_call("init(theta)"):
            self.states.append([impl.init(theta) for theta in initial])
        self.last_grads.append([None] * len(group.params))

    def step(self, grads: StepGrads) -> None:
        for k, (impl, group_grads) in enumerate(zip(self.impls, grads, strict=True)):
            typed = [None if g is None else self.adapter.to_format(g) for g in group_grads]
            self.last_grads[k] = typed
            with implementation_call("step(state, grad)"):
                self.states[k] = [state if g is None else impl.step(state, g)
                                  for state, g in zip(self.states[k], typed, strict=True)]

    def read(self) -> list[list[ParamState]]:
        readable = self.adapter.capabilities.read_state
        maxima = self.adapter.capabilities.max_state
        slow = self.adapter.capabilities.slow_state
        out = []
        for group in self.states:
            with implementation_call("the state's theta, m, v and t"):
                held = [(s.theta, s.m, s.v, s.t, s.v_max if maxima else None,
                         s.slow if slow else None) if readable
                        else (s.theta, None, None, None, None, None) for s in group]
            out.append([ParamState(flat(theta), None if m is None else flat(m),
                                   None if v is None else flat(v), None if t is None else int(t),
                                   v_max=None if v_max is None else flat(v_max),
                                   slow=None if phi is None else flat(phi))
                        for theta, m, v, t, v_max, phi in held])
        return out

    def inject(self, states: Sequence[Sequence[ParamState]]) -> None:
        fmt = self.adapter.to_format
        caps = self.adapter.capabilities
        for k, (impl, group_states) in enumerate(zip(self.impls, states, strict=True)):
            arguments = [(fmt(s.theta), fmt(required(s.m)), fmt(required(s.v)), s.t)
                         for s in group_states]
            # AMSGrad's maximum: v where none is given (a state whose v is at its largest);
            # Lookahead's slow weights: theta where none are given (just after a sync)
            extra: list[dict[str, np.ndarray]] = [{} for _ in group_states]
            for e, s in zip(extra, group_states, strict=True):
                if caps.max_state:
                    e["v_max"] = fmt(required(s.v) if s.v_max is None else s.v_max)
                if caps.slow_state:
                    e["slow"] = fmt(s.theta if s.slow is None else s.slow)
            with implementation_call("state_at(theta, m, v, t)"):
                self.states[k] = [impl.state_at(*a, **e)
                                  for a, e in zip(arguments, extra, strict=True)]

    def save(self) -> bytes:
        with implementation_call("pickling the state"):
            return pickle.dumps(self.states)

    def load(self, saved: bytes) -> None:
        with implementation_call("unpickling the state"):
            self.states = pickle.loads(saved)

    def grads(self) -> list[list[np.ndarray | None]]:
        return [[None if g is None else np.array(g, dtype=np.float64) for g in group]
                for group in self.last_grads]
