"""Adapter for any ``torch.optim.Optimizer`` subclass.

Constructed as ``cls(params, lr=, betas=(beta1, beta2), eps=, weight_decay=, **kwargs)`` on
the chosen device and dtype. With ``complex64``/``complex128`` every parameter is a complex
tensor whose real and imaginary parts are consecutive values of the drawn real array (padded
with one more real where the length is odd: 0 for theta and m, 1 for gradients, v and
v_max, so that the padding never divides 0 by 0 with eps = 0, which a complex product such
as L2's would carry into the real part): torch optimizers treat complex parameters as pairs
of independent reals, so the exact reference for the real array applies unchanged.
``maximize`` is set per group where the optimizer keeps it in its defaults, otherwise once
in the constructor (and then groups share one value). The state layout is found by
inspecting the state after one step (``exp_avg``/``exp_avg_sq``/``step`` and other common
names, per tensor or per group); where it is found and holds nothing else, the state can be
read and injected.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from radam_verify.adapters.base import (
    Adapter,
    Capabilities,
    ClosureCall,
    GroupSpec,
    Instance,
    ParamState,
    StepGrads,
    carried,
    flush_probe,
    implementation_call,
    refuse_drawn,
)
from radam_verify.adapters.torch_compiled import CompiledStep
from radam_verify.adapters.torch_names import constructor_names
from radam_verify.errors import ImplementationError, UsageError
from radam_verify.floats import FORMATS, Format
from radam_verify.hyper import Hyper
from radam_verify.layout import Layout, Moments, identify_moments
from radam_verify.views import Strided

if TYPE_CHECKING:
    from radam_verify.adapters.script import Driver
    from radam_verify.suite.scenario import Scenario

# ``state1``/``state2``: bitsandbytes' optimizers (its 32-bit states hold m and v)
M_NAMES = ("exp_avg", "m", "mu", "first_moment", "moment1", "exp_avg_m", "state1")
V_NAMES = ("exp_avg_sq", "v", "nu", "second_moment", "moment2", "exp_avg_v", "state2")
STEP_NAMES = ("step", "t", "count", "n_step")
#: AMSGrad's running maximum of the second moment (torch.optim.Adam's ``max_exp_avg_sq``)
MAX_NAMES = ("max_exp_avg_sq", "max_exp_avg_sqs", "v_max", "max_v", "nu_max", "exp_avg_sq_max")
#: Lookahead's slow weights (pytorch-ranger's and pytorch-optimizer's Ranger's
#: ``slow_buffer``, torch-optimizer's ``slow_param``, pytorch-optimizer's Lookahead's
#: ``slow_params``, timm's ``lookahead_slow_buff``)
SLOW_NAMES = ("slow_buffer", "slow_param", "slow_params", "lookahead_slow_buff",
              "slow_weights", "slow")
#: counters a Lookahead wrapper keeps in each parameter group, and the wrapper's attribute
#: they count modulo (None: the step count itself): timm's ``lookahead_step``,
#: torch-optimizer's ``counter`` (steps modulo its ``k``); an injected state at step t sets them
GROUP_COUNTERS: Mapping[str, str | None] = {"lookahead_step": None, "counter": "k"}
#: the most steps a probe takes to find a wrapper's slow weights (timm's appear at step k)
SLOW_SEARCH = 32
#: LAMB's norms and trust ratio of the last step, which torch-optimizer's and
#: pytorch-optimizer's Lamb store for inspection and never read: a step from injected state
#: writes them afresh, so they do not keep the state from being injected
OUTPUT_NAMES = ("weight_norm", "adam_norm", "trust_ratio")


@dataclass(frozen=True)
class StateKeys:
    """Where the implementation keeps m, v and t (None: not found), and what else a step
    leaves in its state: entries it creates empty (``kahan_comp: None``) and group entries
    it sets on its first step (``setup: True``), which an injected state recreates."""

    m_key: str | None
    v_key: str | None
    step_key: str | None
    step_in_group: bool  # the step counter lives in the parameter group, not per tensor
    step_sample: Any  # the step value after one step, to build values of the same type
    other_keys: tuple[str, ...]  # state entries the suite does not understand
    #: the dtypes m and v are held in (None: the parameters' dtype); injected state uses them
    m_dtype: Any = None
    v_dtype: Any = None
    empty_keys: tuple[str, ...] = ()  # per-tensor entries a step sets to None
    group_set: tuple[tuple[str, Any], ...] = ()  # group entries (not hyperparameters) a step sets
    #: what m and v hold (raw or bias-corrected), found from their values after the probe step
    moments: Moments | None = "raw"
    #: where AMSGrad's running maximum is kept (None: no such entry)
    max_key: str | None = None
    #: where Lookahead's slow weights are kept (None: no such entry), and their dtype (None:
    #: the parameters')
    slow_key: str | None = None
    slow_dtype: Any = None
    #: the slow weights are kept in a Lookahead wrapper's own state, not the inner optimizer's
    slow_outer: bool = False
    #: a Lookahead wrapper's counters in each group (:data:`GROUP_COUNTERS`)
    counters: tuple[str, ...] = ()

    @property
    def readable(self) -> bool:
        return self.m_key is not None and self.v_key is not None

    @property
    def injectable(self) -> bool:
        return self.readable and self.step_key is not None and not self.other_keys


class TorchAdapter(Adapter):
    """A torch optimizer, or a Lookahead wrapper around one: with ``inner`` among the
    keywords (``{"inner": "torch.optim:RAdam", "k": 6}``) the optimizer is built as
    ``cls(Inner(params, ...), **wrapper keywords)``, the hyperparameters are the inner
    optimizer's, a keyword the wrapper does not take goes to the inner optimizer, and the
    state is read from both (the inner optimizer's moments, slow weights wherever the wrapper
    keeps them)."""

    kind = "torch"

    def __init__(self, spec: str, cls: type, kwargs: Mapping[str, object], device: str,
                 fmt: Format, version: str, complex_params: bool = False) -> None:
        import torch

        self.spec, self.cls, self.kwargs, self.fmt, self.version = spec, cls, dict(kwargs), fmt, version
        #: the step compiled by torch.compile (``{"compile": true}``, a keyword of the
        #: adapter's own that the optimizer's constructor never sees), else None
        self.compiled = _compiled_step(self.kwargs.get("compile", False))
        self.device = check_device(device)
        self.torch_dtype = getattr(torch, fmt.name)  # float32, float64, bfloat16, float16
        self.complex_params = complex_params
        #: a Lookahead wrapper's inner optimizer class, and the keywords the wrapper takes
        self.inner_cls, self.wrapper_keys = wrapped(cls, self.kwargs)
        self.names, accepted = constructor_names(self.inner_cls or cls)
        self._accepts = accepted
        refuse_drawn(self.kwargs, self.names.drawn)
        self._maximize_in_group = True  # until the probe shows where maximize lives
        #: why step(closure) is not offered, found by the first probe (None: it is)
        self.closure_note: str | None
        base = self._construct_probe(self.kwargs, what="--verify-kwargs")
        self.keys = base
        paths, notes = self._code_paths(accepted)
        if base.m_key is None or base.v_key is None:
            notes["read_state"] = "no first and second moment found in the optimizer state"
        elif base.moments is None:  # read as the usual layout: the deviation shows in m, v
            notes["state layout"] = (f"after a first step {base.m_key}/{base.v_key} hold neither "
                                     "m, v nor the bias-corrected m_hat, v_hat; read as m, v")
            base = self.keys = replace(base, moments="raw")
        elif not base.injectable:
            notes["inject_state"] = (f"state entries {', '.join(base.other_keys)} are not understood"
                                     if base.other_keys else "no step counter found in the state")
        if "maximize" not in accepted:
            notes["maximize"] = f"{cls.__name__}() takes no 'maximize' argument"
        fixed = self.kwargs.get("maximize")
        self.state_layout = Layout(base.moments if base.moments is not None else "raw",
                                   "group" if base.step_in_group else "tensor")
        self.capabilities = Capabilities(
            read_state=base.readable, inject_state=base.injectable,
            max_state=base.injectable and base.max_key is not None,
            slow_state=base.injectable and base.slow_key is not None,
            maximize="maximize" in accepted, maximize_per_group=self._maximize_in_group,
            maximize_fixed=None if fixed is None else bool(fixed),
            weight_decay=self.names.weight_decay,
            groups=True, add_group=True, save_load=True, code_paths=paths,
            closure=self.closure_note is None, live_state=True, views=not complex_params,
            retune=self.inner_cls is None,
            mixed_dtypes=not complex_params,
            notes={**notes, **({"closure": self.closure_note} if self.closure_note else {}),
                   **({} if self.inner_cls is None else {
                       "retune": "a Lookahead wrapper's groups are its inner optimizer's: "
                                 "hyperparameters set between steps are verified on that "
                                 "optimizer alone"}),
                   **({"views": "complex parameters are stepped as pairs of reals; strided "
                                "views are drawn for real dtypes",
                       "mixed_dtypes": "complex parameters are verified alone; groups of "
                                       "several dtypes are drawn for real dtypes"}
                      if complex_params else {})})

    @property
    def dtype(self) -> str:
        if self.complex_params:
            return {"float32": "complex64", "float64": "complex128"}[self.fmt.name]
        return self.fmt.name

    # -- construction -------------------------------------------------------------------
    def _group_dict(self, group: GroupSpec, params: list[Any]) -> dict[str, object]:
        """A parameter group as a user of the library writes it (its own group keys)."""
        entry: dict[str, object] = {"params": params, **self.names.group(group.hyper)}
        h = group.hyper
        if "maximize" in self._accepts and self._maximize_in_group and "maximize" not in self.kwargs:
            entry["maximize"] = h.maximize
        return entry

    def tensor(self, values: np.ndarray, leaf: bool = True, dtype: Any = None,
               fmt: Format | None = None, pad: float = 0.0) -> Any:
        """A tensor of the drawn values in the parameters' dtype (or ``fmt``'s, a parameter
        of another dtype in its group; or ``dtype``, the real dtype a state entry is held
        in: float64 values are rounded to it by torch); ``pad``: the real that completes an
        odd number of them into complex elements (never read back)."""
        import torch

        fmt = fmt or self.fmt
        data = torch.tensor(self.carried(values, fmt), dtype=getattr(torch, fmt.name),
                            device=self.device)
        if dtype is not None:
            data = data.to(dtype)
        if self.complex_params:
            data = torch.view_as_complex(
                torch.nn.functional.pad(data, (0, data.numel() % 2), value=pad)
                .reshape(-1, 2).contiguous())
        if leaf:
            return torch.nn.Parameter(data)
        # differentiable optimizers update non-leaf tensors that carry autograd history
        return data.requires_grad_(True).clone()

    def carried(self, values: object, fmt: Format | None = None) -> np.ndarray:
        """``values`` rounded to the format (``fmt``, default the parameters'), in a numpy
        dtype torch takes (bfloat16 and float16 values are carried exactly as float32)."""
        return carried(fmt or self.fmt, values)

    def format_of(self, group: GroupSpec, p: int) -> Format:
        """The format parameter ``p`` of ``group`` is held in."""
        return self.fmt if group.dtypes is None else FORMATS[group.dtypes[p]]

    def placed(self, values: np.ndarray, view: Strided, leaf: bool = True) -> tuple[Any, Any]:
        """A parameter of the drawn values as the strided ``view`` into a storage whose other
        elements hold canaries; returns the parameter and the storage (real dtypes only)."""
        import torch

        storage = torch.tensor(self.carried(view.place(values)), dtype=self.torch_dtype,
                               device=self.device)
        if leaf:  # a leaf parameter sharing the storage, with the view's strides
            return torch.nn.Parameter(storage.as_strided(view.shape, view.strides,
                                                         view.offset)), storage
        base = storage.requires_grad_(True).clone()  # the differentiable path's non-leaf
        return base.as_strided(view.shape, view.strides, view.offset), base

    def gradient(self, values: np.ndarray, view: Strided | None, fmt: Format | None = None) -> Any:
        """A gradient tensor of ``values``, laid out as ``view`` (None: contiguous), in the
        format ``fmt`` of its parameter (default the parameters')."""
        if view is None:
            return self.tensor(values, fmt=fmt, pad=1.0).detach()
        tensor, _ = self.placed(values, view)
        return tensor.detach()

    def values(self, tensor: Any, size: int) -> np.ndarray:
        """The first ``size`` real values of ``tensor`` (its real/imaginary pairs if complex)."""
        return snapshot(tensor)[:size]

    def group_tensors(self, group: GroupSpec, leaf: bool) -> tuple[list[Any], list[Any]]:
        """A group's parameters (placed as its placements say), and their storages (None
        for a tensor of its own)."""
        if group.placements is None:
            return ([self.tensor(p, leaf, fmt=self.format_of(group, i))
                     for i, p in enumerate(group.params)], [None] * len(group.params))
        made = [self.placed(p, where.param, leaf)
                for p, where in zip(group.params, group.placements, strict=True)]
        return [param for param, _ in made], [storage for _, storage in made]

    def construct(self, groups: Sequence[GroupSpec], kwargs: Mapping[str, object]
                  ) -> tuple[Any, list[list[Any]]]:
        leaf = not kwargs.get("differentiable", False)
        tensors = [self.group_tensors(g, leaf)[0] for g in groups]
        return self.build(groups, tensors, kwargs), tensors

    def build(self, groups: Sequence[GroupSpec], tensors: list[list[Any]],
              kwargs: Mapping[str, object]) -> Any:
        """The optimizer over ``tensors`` with ``groups``' hyperparameters."""
        kwargs = constructor_kwargs(kwargs)
        entries = [self._group_dict(g, ts) for g, ts in zip(groups, tensors, strict=True)]
        if "maximize" in self._accepts and not self._maximize_in_group and "maximize" not in kwargs:
            kwargs = {**kwargs, "maximize": groups[0].hyper.maximize}
        required = self.names.constructor(groups[0].hyper)  # e.g. an lr without a default
        with implementation_call(f"{self.cls.__name__}(...)"):
            if self.inner_cls is None:
                return self.cls(entries, **required, **kwargs)
            own = {k: v for k, v in kwargs.items() if k in self.wrapper_keys}
            rest = {k: v for k, v in kwargs.items() if k not in self.wrapper_keys and k != "inner"}
            return self.cls(self.inner_cls(entries, **required, **rest), **own)

    def lookahead(self) -> tuple[Adapter | None, int, float] | None:
        """A wrapper's inner optimizer's adapter (the keywords the wrapper does not take), or
        None for an optimizer with Lookahead built in (slow weights in its state, as Ranger's
        ``slow_buffer``); k and alpha as an instance built over one tensor holds them: timm's
        wrapper in each group (``lookahead_k``, ``lookahead_alpha``), torch-optimizer's and
        pytorch-optimizer's wrappers as attributes, the Rangers in each group (``k``,
        ``alpha``)."""
        if self.inner_cls is None and not self.capabilities.slow_state:
            return None
        optimizer, _ = self.construct([GroupSpec(Hyper(), (np.zeros(2),))], self.kwargs)
        group = optimizer.param_groups[0]
        k = group.get("lookahead_k", group.get("k", getattr(optimizer, "k", None)))
        alpha = group.get("lookahead_alpha", group.get("alpha", getattr(optimizer, "alpha", None)))
        if not isinstance(k, int) or isinstance(k, bool) or not isinstance(alpha, (int, float)):
            return None
        if self.inner_cls is None:
            return None, k, float(alpha)
        from radam_verify.adapters import load_adapter

        rest = {k: v for k, v in self.kwargs.items() if k not in self.wrapper_keys and k != "inner"}
        return load_adapter(str(self.kwargs["inner"]), rest, self.device, self.dtype), k, float(alpha)

    def inner(self, optimizer: Any) -> Any:
        """The optimizer that keeps the moments: a wrapper's inner optimizer, else itself."""
        if self.inner_cls is None:
            return optimizer
        return next(v for v in vars(optimizer).values() if isinstance(v, self.inner_cls))

    def tensor_state(self, optimizer: Any, tensor: Any) -> dict[str, Any]:
        """Everything kept for ``tensor``: the (inner) optimizer's state, and a wrapper's own."""
        state = dict(self.inner(optimizer).state.get(tensor, {}))
        if self.inner_cls is not None:
            state.update(optimizer.state.get(tensor, {}))
        return state

    def _construct_probe(self, kwargs: Mapping[str, object], what: str) -> StateKeys:
        """Construct once and take one step: rejects bad kwargs early, finds the state layout."""

        hyper = Hyper(lr=1e-3)
        group = GroupSpec(hyper, (np.linspace(-1.0, 1.0, 3),))
        try:
            optimizer, tensors = self.construct([group], kwargs)
            before = dict(optimizer.param_groups[0])
            tensors[0][0].grad = self.tensor(np.full(3, 0.5)).detach()
            with implementation_call("step()"):
                self.run_step(optimizer)
            defaults = getattr(optimizer, "defaults", {})
            self._maximize_in_group = "maximize" in defaults
            self.names = self.names.with_group_keys(defaults)
        except ImplementationError as error:  # the constructor's own complaint, in one line
            raise UsageError(f"{self.spec} cannot be constructed and stepped with {what} "
                             f"{dict(kwargs)}: {error}") from None
        param = tensors[0][0]
        keys = _layout(self.tensor_state(optimizer, param), optimizer.param_groups[0], param,
                       before, wrapper=self.inner_cls is not None)
        if keys.m_key is not None and keys.v_key is not None:
            state = self.tensor_state(optimizer, param)
            keys = replace(keys, moments=identify_moments(
                self.values(state[keys.m_key], 3).tolist(),
                self.values(state[keys.v_key], 3).tolist(), [0.5] * 3, hyper.beta1, hyper.beta2))
        if self.inner_cls is not None and keys.slow_key is None:
            keys = self._find_slow(optimizer, param, keys)
        elif self.inner_cls is not None:
            keys = replace(keys, slow_outer=keys.slow_key in optimizer.state.get(param, {}))
        if not hasattr(self, "closure_note"):  # (a second step: after the state was read)
            self.closure_note = closure_refused(optimizer, self.run_step)
        return keys

    def _find_slow(self, optimizer: Any, param: Any, keys: StateKeys) -> StateKeys:
        """A wrapper's slow weights, which it may create only at its first sync (timm's at
        step k): step on until they appear, and note where they are kept."""
        import torch

        for _ in range(SLOW_SEARCH):
            param.grad = self.tensor(np.full(param.numel(), 0.5)).detach()
            with implementation_call("step()"):
                self.run_step(optimizer)
            outer = optimizer.state.get(param, {})
            state = self.tensor_state(optimizer, param)
            found = next((name for name in SLOW_NAMES if isinstance(state.get(name), torch.Tensor)
                          and state[name].shape == param.shape), None)
            if found is not None:
                dtype = state[found].dtype
                return replace(keys, slow_key=found, slow_outer=found in outer,
                               slow_dtype=None if dtype == param.dtype else _real(dtype),
                               other_keys=tuple(k for k in keys.other_keys if k != found))
        return keys

    def _code_paths(self, accepted: set[str]) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
        candidates: dict[str, dict[str, object]] = {}
        if "foreach" in accepted:
            candidates["for-loop"] = {"foreach": False}
            candidates["foreach"] = {"foreach": True}
        if "differentiable" in accepted:
            candidates["differentiable"] = {"differentiable": True}
        if "capturable" in accepted:
            candidates["capturable"] = {"capturable": True}
        if "fused" in accepted:
            candidates["fused"] = {"fused": True}
        paths: dict[str, dict[str, object]] = {}
        notes: dict[str, str] = {}
        chosen = sorted({key for extra in candidates.values() for key in extra} & set(self.kwargs))
        if chosen:  # the keywords select one path: verify that configuration only
            notes["code paths"] = f"the keywords select one path ({', '.join(chosen)})"
            return paths, notes
        for name, extra in candidates.items():
            kwargs = {**self.kwargs, **extra}
            try:
                self._construct_probe(kwargs, what=f"the {name} path")
            except UsageError as error:
                notes[f"path {name}"] = f"not available on {self.device}: {error}"
                continue
            paths[name] = kwargs
        return paths, notes

    def run_step(self, optimizer: Any, closure: Any = None) -> Any:
        """``optimizer.step()`` (``step(closure)``), compiled where the configuration says."""
        if self.compiled is not None:
            return self.compiled(optimizer, closure)
        return optimizer.step() if closure is None else optimizer.step(closure)

    @property
    def hyperparameter_keys(self) -> list[str]:
        n = self.names
        maximize = ["maximize"] if "maximize" in self._accepts and self._maximize_in_group else []
        return [n.group_lr, *n.group_betas, n.group_eps,
                *(["weight_decay"] if n.weight_decay else []), *maximize]

    @property
    def framework(self) -> str:
        import torch

        return f"torch {torch.__version__}"

    def platform_flushes(self) -> str | None:
        return torch_flushes(self.device, self.torch_dtype, self.fmt)

    def script_driver(self, scenario: Scenario) -> Driver | None:
        from radam_verify.adapters.torch_script import driver

        return driver(self, scenario)

    def open(self, groups: Sequence[GroupSpec], path: str | None = None) -> Instance:
        kwargs = self.capabilities.code_paths[path] if path else self.kwargs
        leaf = not kwargs.get("differentiable", False)
        made = [self.group_tensors(g, leaf) for g in groups]
        tensors = [params for params, _ in made]
        optimizer = self.build(groups, tensors, kwargs)
        instance = TorchInstance(self, optimizer, tensors, [[p.size for p in g.params] for g in groups],
                                 dict(kwargs))
        instance.formats = [[self.format_of(g, p) for p in range(len(g.params))] for g in groups]
        instance.place([storages for _, storages in made], groups)
        return instance


def torch_flushes(device: str, dtype: Any, fmt: Format) -> str | None:
    """:func:`~radam_verify.adapters.base.flush_probe` with torch's multiply on ``device``
    (CPU kernels flush after torch.set_flush_denormal(True); GPUs may run in FTZ mode)."""
    import torch

    def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        left, right = (torch.tensor(x, dtype=dtype, device=device) for x in (a, b))
        return np.asarray((left * right).to(device="cpu", dtype=torch.float64).numpy())

    return flush_probe(multiply, fmt, f"torch on {device}")


def constructor_kwargs(kwargs: Mapping[str, object]) -> dict[str, object]:
    """The keywords that go to the optimizer's constructor: all but the adapter's own
    ``compile``."""
    return {k: v for k, v in kwargs.items() if k != "compile"}


def _compiled_step(compile_: object) -> CompiledStep | None:
    """The compiled step for the adapter's ``compile`` keyword (a bool), or None."""
    if not isinstance(compile_, bool):
        raise UsageError(f"--verify-kwargs 'compile' must be true or false, not {compile_!r}")
    return CompiledStep() if compile_ else None


def check_device(device: str) -> str:
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise UsageError(f"--verify-device={device!r} is not a device; use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--verify-device={device} but this machine has no CUDA device "
                             "(torch.cuda.is_available() is False); use --verify-device=cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise UsageError(f"--verify-device={device} does not exist: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    elif parsed.type != "cpu":
        raise UsageError(f"--verify-device={device!r} is not supported; use cpu, cuda or cuda:N")
    return str(parsed)


def wrapped(cls: type, kwargs: Mapping[str, object]) -> tuple[type | None, frozenset[str]]:
    """A Lookahead wrapper's inner optimizer class (``kwargs["inner"]``, a ``MODULE:ATTR``)
    and the keywords the wrapper itself takes; (None, empty) without ``inner``."""
    import inspect

    import torch

    if "inner" not in kwargs:
        return None, frozenset()
    from radam_verify.adapters import resolve

    spec = kwargs["inner"]
    inner = resolve(spec) if isinstance(spec, str) else None
    if not (isinstance(inner, type) and issubclass(inner, torch.optim.Optimizer)):
        raise UsageError(f"--verify-kwargs 'inner' must name a torch optimizer class as "
                         f"MODULE:ATTR (e.g. \"torch.optim:RAdam\"), got {spec!r}")
    parameters = [name for name, parameter in inspect.signature(cls).parameters.items()
                  if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)]
    return inner, frozenset(parameters[1:])  # after the optimizer it wraps


def _layout(state: Mapping[str, Any], group: Mapping[str, Any], param: Any,
            before: Mapping[str, Any], wrapper: bool = False) -> StateKeys:
    """The state's keys after one step (``state``: everything kept for ``param``; ``group``:
    its group); ``before``: the group's entries before it; ``wrapper``: a Lookahead
    wrapper's, whose counters (:data:`GROUP_COUNTERS`) are set by injection."""
    import torch


    def find(names: tuple[str, ...]) -> str | None:
        for name in names:
            value = state.get(name)
            if isinstance(value, torch.Tensor) and value.shape == param.shape:
                return name
        return None

    m_key, v_key, max_key = find(M_NAMES), find(V_NAMES), find(MAX_NAMES)
    slow_key = find(SLOW_NAMES)
    step_key = next((n for n in STEP_NAMES if n in state and _is_count(state[n])), None)
    in_group = False
    sample: Any = None
    if step_key is not None:
        sample = state[step_key]
    else:
        step_key = next((n for n in STEP_NAMES if n in group and _is_count(group[n])), None)
        in_group, sample = step_key is not None, group.get(step_key or "", None)
    known = {m_key, v_key, max_key, slow_key, None if in_group else step_key, *(
        name for name in OUTPUT_NAMES if name in state and torch.is_tensor(state[name])
        and state[name].numel() == 1)}
    empty = tuple(sorted(k for k in state if k not in known and state[k] is None))
    others = tuple(sorted(k for k in state if k not in known and state[k] is not None))
    # a wrapper's counters; timm's name is also the one an optimizer with Lookahead built in
    # keeps its group's count under (the project's own, counted per group)
    counters = tuple(name for name in GROUP_COUNTERS
                     if name in group and (wrapper or name == "lookahead_step"))
    # plain entries a first step sets in the group (optimi's ``setup``), recreated on injection
    group_set = tuple((k, value) for k, value in group.items()
                      if k not in ("params", step_key, *counters)
                      and isinstance(value, bool | int | str)
                      and (k not in before or before[k] != value))

    def held(key: str | None) -> Any:
        dtype = state[key].dtype if key is not None else None
        return None if dtype is None or dtype == param.dtype else _real(dtype)

    return StateKeys(m_key, v_key, step_key, in_group, sample, others, held(m_key), held(v_key),
                     empty, group_set, max_key=max_key, slow_key=slow_key,
                     slow_dtype=held(slow_key), counters=counters)


def _real(dtype: Any) -> Any:
    """The real dtype of a (possibly complex) torch dtype."""
    import torch

    return torch.empty(0, dtype=dtype).real.dtype if dtype.is_complex else dtype


def _is_count(value: object) -> bool:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and float(value) == 1.0
    return isinstance(value, int | float) and value == 1


#: what the probing closure and the suite's closures return (a float64 scalar tensor)
CLOSURE_LOSS = 0.25


def closure_refused(optimizer: Any, run_step: Callable[[Any, Any], Any]) -> str | None:
    """Why ``optimizer.step(closure)`` (through ``run_step``) is not offered (it raises),
    or None."""
    import torch

    try:
        with implementation_call("step(closure)"):
            run_step(optimizer, lambda: torch.tensor(CLOSURE_LOSS, dtype=torch.float64))
    except ImplementationError as error:
        return f"step(closure) raises {error}"
    return None


def closure_step(optimizer: Any, tensors: list[list[Any]], grads: StepGrads,
                 to_tensor: Callable[[np.ndarray], Any],
                 run_step: Callable[[Any, Any], Any] | None = None) -> ClosureCall:
    """One ``optimizer.step(closure)`` (through ``run_step`` where given) whose closure sets
    ``grads`` as a training loop's closure computes them, and returns a loss; what the step
    did with it."""
    import torch

    loss = torch.tensor(CLOSURE_LOSS, dtype=torch.float64)
    enabled: list[bool] = []

    def closure() -> Any:
        enabled.append(torch.is_grad_enabled())
        for group_tensors, group_grads in zip(tensors, grads, strict=True):
            for tensor, grad in zip(group_tensors, group_grads, strict=True):
                tensor.grad = None if grad is None else to_tensor(grad).detach()
        return loss

    for group_tensors in tensors:
        for tensor in group_tensors:
            tensor.grad = None
    with implementation_call("step(closure)"):
        returned = optimizer.step(closure) if run_step is None else run_step(optimizer, closure)
    same = returned is loss or (isinstance(returned, torch.Tensor | float)
                                and float(returned) == CLOSURE_LOSS)
    return ClosureCall(len(enabled), tuple(enabled), repr(returned), same)


def disturb(found: object, keys: Sequence[str]) -> None:
    """Change in place every floating tensor in ``found`` (nested dicts, lists, tuples) and,
    in every dict, the numbers under ``keys`` (hyperparameters: halved, so they stay legal)."""
    import torch

    if isinstance(found, torch.Tensor):
        if found.is_floating_point() or found.is_complex():
            with torch.no_grad():
                found.add_(1.0)
        return
    if isinstance(found, dict):
        for key, value in list(found.items()):
            if key in keys and isinstance(value, int | float) and not isinstance(value, bool):
                found[key] = value * 0.5
            elif key in keys and isinstance(value, tuple | list) and all(
                    isinstance(x, int | float) and not isinstance(x, bool) for x in value):
                found[key] = type(value)(x * 0.5 for x in value)
            else:
                disturb(value, keys)
    elif isinstance(found, list | tuple):
        for value in found:
            disturb(value, keys)


def load_live(optimizer: Any, source: Any, keys: Sequence[str]) -> Callable[[], None]:
    """``optimizer.load_state_dict(source.state_dict())`` in process; returns what changes
    that state dict object in place (:func:`disturb`)."""
    with implementation_call("state_dict()"):
        state = source.state_dict()
    with implementation_call("load_state_dict()"):
        optimizer.load_state_dict(state)
    return lambda: disturb(state, keys)


class TorchInstance(Instance):
    def __init__(self, adapter: TorchAdapter, optimizer: Any, tensors: list[list[Any]],
                 sizes: list[list[int]], kwargs: dict[str, object]) -> None:
        self.adapter, self.optimizer, self.tensors, self.kwargs = adapter, optimizer, tensors, kwargs
        self.sizes = sizes
        #: per tensor, the storage it is a view into and where its gradients lie (placed
        #: groups only)
        self.storages: list[list[Any]] = [[None] * len(group) for group in tensors]
        self.grad_views: list[list[Strided | None]] = [[None] * len(group) for group in tensors]
        #: per tensor, the format it is held in (``GroupSpec.dtypes``)
        self.formats: list[list[Format]] = [[adapter.fmt] * len(group) for group in tensors]

    def place(self, storages: list[list[Any]], groups: Sequence[GroupSpec]) -> None:
        """Record the storages of placed parameters and their gradients' layouts."""
        for g, group in enumerate(groups):
            self.storages[g] = list(storages[g])
            if group.placements is not None:
                self.grad_views[g] = [where.grad for where in group.placements]

    def step(self, grads: StepGrads) -> None:
        for group_tensors, group_grads, views, formats in zip(self.tensors, grads, self.grad_views,
                                                              self.formats, strict=True):
            for tensor, grad, view, fmt in zip(group_tensors, group_grads, views, formats,
                                               strict=True):
                tensor.grad = None if grad is None else self.adapter.gradient(grad, view, fmt)
        with implementation_call("step()"):
            self.adapter.run_step(self.optimizer)

    def step_closure(self, grads: StepGrads) -> ClosureCall:
        # gradients as step() sets them (a complex padding real's gradient is 1)
        return closure_step(self.optimizer, self.tensors, grads,
                            lambda g: self.adapter.tensor(g, pad=1.0), self.adapter.run_step)

    def read(self) -> list[list[ParamState]]:
        layout = self.adapter.keys
        out = []
        values = self.adapter.values
        for group_index, group_tensors in enumerate(self.tensors):
            row: list[ParamState] = []
            for tensor, size in zip(group_tensors, self.sizes[group_index], strict=True):
                state: dict[Any, Any] = self.adapter.tensor_state(self.optimizer, tensor)
                m = v = v_max = slow = None
                t: int | None = None
                # (a wrapper may keep slow weights for a tensor the inner optimizer never stepped)
                if layout.readable and layout.m_key in state:
                    m, v = values(state[layout.m_key], size), values(state[layout.v_key], size)
                    if layout.max_key is not None and layout.max_key in state:
                        v_max = values(state[layout.max_key], size)
                    if layout.slow_key is not None and layout.slow_key in state:
                        slow = values(state[layout.slow_key], size)
                if layout.step_key is not None:
                    holder: Mapping[str, Any] = (self.optimizer.param_groups[group_index]
                                                 if layout.step_in_group else state)
                    if layout.step_key in holder:
                        t = int(float(holder[layout.step_key]))
                    elif not self.adapter.inner(self.optimizer).state.get(tensor):
                        t = 0
                storage = self.storages[group_index][len(row)]
                row.append(ParamState(values(tensor, size), m, v, t,
                                      None if storage is None else snapshot(storage), v_max,
                                      slow))
            out.append(row)
        return out

    def inject(self, states: Sequence[Sequence[ParamState]]) -> None:
        import torch

        layout = self.adapter.keys
        assert layout.m_key is not None
        assert layout.v_key is not None
        assert layout.step_key is not None
        for group_index, (group_tensors, group_states) in enumerate(
                zip(self.tensors, states, strict=True)):
            for tensor, wanted in zip(group_tensors, group_states, strict=True):
                assert wanted.m is not None
                assert wanted.v is not None
                assert wanted.t is not None
                shape = tensor.shape  # states read back are flat: each takes its tensor's shape
                with torch.no_grad():
                    tensor.copy_(self.adapter.tensor(wanted.theta).detach().reshape(shape))
                entry: dict[str, Any] = {  # in the dtypes the implementation holds them in
                    layout.m_key: self.adapter.tensor(wanted.m, dtype=layout.m_dtype)
                    .detach().reshape(shape),
                    layout.v_key: self.adapter.tensor(wanted.v, dtype=layout.v_dtype, pad=1.0)
                    .detach().reshape(shape),
                }
                if layout.max_key is not None:  # AMSGrad's maximum: v where none is given
                    held = wanted.v if wanted.v_max is None else wanted.v_max
                    entry[layout.max_key] = (self.adapter.tensor(held, dtype=layout.v_dtype,
                                                                 pad=1.0)
                                             .detach().reshape(shape))
                outer: dict[str, Any] = {}  # a wrapper's own state for the tensor
                # Lookahead's slow weights, from the step the reading holds them: theta where
                # none are given
                slow_key = layout.slow_key
                if slow_key is not None and (wanted.slow is not None
                                             or wanted.t >= self.adapter.slow_from):
                    phi = wanted.theta if wanted.slow is None else wanted.slow
                    (outer if layout.slow_outer else entry)[slow_key] = (
                        self.adapter.tensor(phi, dtype=layout.slow_dtype).detach().reshape(shape))
                entry.update(dict.fromkeys(layout.empty_keys))
                step = _step_like(layout.step_sample, wanted.t)
                group = self.optimizer.param_groups[group_index]
                group.update(layout.group_set)  # as the group is once it has stepped
                for name in layout.counters:  # a Lookahead wrapper's, after t steps
                    modulus = GROUP_COUNTERS[name]
                    group[name] = (wanted.t if modulus is None
                                   else wanted.t % int(getattr(self.optimizer, modulus)))
                if layout.step_in_group:
                    group[layout.step_key] = step
                else:
                    entry[layout.step_key] = step
                self.adapter.inner(self.optimizer).state[tensor] = entry
                if self.adapter.inner_cls is not None:
                    self.optimizer.state.pop(tensor, None)
                    if outer:
                        self.optimizer.state[tensor] = outer

    def add_group(self, group: GroupSpec) -> None:
        leaf = not self.kwargs.get("differentiable", False)
        tensors, storages = self.adapter.group_tensors(group, leaf)
        with implementation_call("add_param_group()"):
            self.optimizer.add_param_group(self.adapter._group_dict(group, tensors))
        self.tensors.append(tensors)
        self.sizes.append([p.size for p in group.params])
        self.formats.append([self.adapter.format_of(group, p) for p in range(len(group.params))])
        self.storages.append(storages)
        self.grad_views.append([w.grad for w in group.placements] if group.placements
                               else [None] * len(tensors))

    def save(self) -> bytes:
        import torch

        buffer = io.BytesIO()
        with implementation_call("state_dict()"):
            torch.save(self.optimizer.state_dict(), buffer)
        return buffer.getvalue()

    def load(self, saved: bytes) -> None:
        import torch

        with implementation_call("load_state_dict()"):
            self.optimizer.load_state_dict(torch.load(io.BytesIO(saved), weights_only=False))

    def load_live(self, source: Instance) -> Callable[[], None]:
        assert isinstance(source, TorchInstance)
        return load_live(self.optimizer, source.optimizer, self.adapter.hyperparameter_keys)

    def change_hyperparameters(self) -> None:
        disturb(self.optimizer.param_groups, self.adapter.hyperparameter_keys)

    def retune(self, hypers: Sequence[Hyper]) -> None:
        for group, hyper in zip(self.optimizer.param_groups, hypers, strict=False):
            group.update(self.adapter.names.group(hyper))  # lr, betas, eps, weight decay

    def grads(self) -> list[list[np.ndarray | None]]:
        return [[None if t.grad is None else self.adapter.values(t.grad, size)
                 for t, size in zip(group, sizes, strict=True)]
                for group, sizes in zip(self.tensors, self.sizes, strict=True)]

    def hyperparameters(self) -> list[dict[str, object]]:
        n = self.adapter.names
        keys = (n.group_lr, *n.group_betas, n.group_eps, "weight_decay", "maximize")
        return [{k: _plain(g[k]) for k in keys if k in g} for g in self.optimizer.param_groups]


def _step_like(sample: Any, t: int) -> Any:
    import torch

    if isinstance(sample, torch.Tensor):
        return torch.tensor(float(t), dtype=sample.dtype, device=sample.device)
    return type(sample)(t)


def snapshot(tensor: Any) -> np.ndarray:
    """A copy of ``tensor``'s values as a new flat float64 array, whatever its dtype and device.

    A copy, because ``Tensor.numpy()`` of a CPU float64 tensor is the tensor's own memory,
    which the next in-place step overwrites. Converted by torch, because numpy has no
    bfloat16 (or float8); the conversion to binary64 is exact for every real floating
    dtype torch has, and a complex tensor gives its (real, imaginary) pairs.
    """
    import torch

    data = tensor.detach()
    if data.is_complex():
        data = torch.view_as_real(data)
    converted = data.to(device="cpu", dtype=torch.float64, copy=True)
    return np.asarray(converted.numpy()).reshape(-1)


def _plain(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value
