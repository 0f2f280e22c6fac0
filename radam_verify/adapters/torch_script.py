"""The torch part of a stand-alone reproduction script (see :mod:`radam_verify.adapters.script`).

The script builds the optimizer exactly as the adapter does: parameter groups as dicts in
torch's names (``lr``, ``betas``, ``eps``, ``weight_decay``, ``maximize`` where the optimizer
keeps it per group), the code path's constructor keywords, gradients as ``param.grad``,
state read from and written to ``optimizer.state[param]`` under the keys the adapter found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from radam_verify.adapters.script import Driver, literal
from radam_verify.adapters.torch_adapter import GROUP_COUNTERS, constructor_kwargs

if TYPE_CHECKING:
    from radam_verify.adapters.torch_adapter import TorchAdapter
    from radam_verify.suite.scenario import Scenario

#: reading, copying, saving and loading a Run over torch tensors (the fastai driver's too)
#: module-level functions of the torch and fastai scripts
DISTURB = '''
def disturb(found):
    """Change in place every floating tensor in ``found`` (+ 1) and, in every dict, the
    numbers under HYPER_KEYS (halved, so they stay legal)."""
    if isinstance(found, torch.Tensor):
        if found.is_floating_point() or found.is_complex():
            with torch.no_grad():
                found.add_(1.0)
    elif isinstance(found, dict):
        for key, value in list(found.items()):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            numbers = isinstance(value, (tuple, list)) and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
            if key in HYPER_KEYS and number:
                found[key] = value * 0.5
            elif key in HYPER_KEYS and numbers:
                found[key] = type(value)(x * 0.5 for x in value)
            else:
                disturb(value)
    elif isinstance(found, (list, tuple)):
        for value in found:
            disturb(value)

'''

STATE_METHODS = '''
    def read(self, g, p, quantity):
        param, size = self.tensors[g][p], self.sizes[g][p]
        if quantity == "theta":
            return values(param, size)
        key = {"m": M_KEY, "v": V_KEY, "v_max": MAX_KEY, "slow": SLOW_KEY}[quantity]
        state = self.held(param)
        return None if key is None or key not in state else values(state[key], size)

    def copy(self, cls):
        groups = [{**group, "params": [values(t, n).tolist() for t, n in zip(ts, sizes)]}
                  for group, ts, sizes in zip(self.groups, self.tensors, self.sizes)]
        return Run(cls, groups)

    def save(self):
        buffer = io.BytesIO()
        torch.save(self.optimizer.state_dict(), buffer)
        return buffer.getvalue()

    def load(self, saved):
        self.optimizer.load_state_dict(torch.load(io.BytesIO(saved), weights_only=False))

    def rounded(self, given):
        return values(tensor(given), len(given))

    def load_live(self, source):
        state = source.optimizer.state_dict()
        self.optimizer.load_state_dict(state)
        return lambda: disturb(state)

    def grads(self):
        return [[None if t.grad is None else values(t.grad, n) for t, n in zip(ts, sizes)]
                for ts, sizes in zip(self.tensors, self.sizes)]

'''

RUN_CLASS = DISTURB + '''
def tensor(values, dtype=None, pad=0.0):
    """A tensor of ``values`` in the parameters' dtype (complex: consecutive pairs of reals,
    an odd number completed by ``pad``: 1 for gradients and v, so that it never divides 0/0)."""
    data = torch.tensor(np.asarray(values, dtype=np.float64), dtype=REAL, device=DEVICE)
    if dtype is not None:
        data = data.to(getattr(torch, dtype).to_real() if COMPLEX else getattr(torch, dtype))
    if COMPLEX:
        data = torch.view_as_complex(
            torch.nn.functional.pad(data, (0, data.numel() % 2), value=pad)
            .reshape(-1, 2).contiguous())
    return data


def values(data, size):
    """The first ``size`` real values of a tensor, as float64 (a copy)."""
    data = data.detach()
    if data.is_complex():
        data = torch.view_as_real(data)
    return data.to(device="cpu", dtype=torch.float64, copy=True).numpy().reshape(-1)[:size]


def own(values_, dtype=None):
    """A tensor of ``values_`` in the parameters' dtype, or in ``dtype`` (a parameter of
    another dtype in its group, and its gradients)."""
    if dtype is None:
        return tensor(values_)
    return torch.tensor(np.asarray(values_, dtype=np.float64), dtype=getattr(torch, dtype),
                        device=DEVICE)


def parameter(values_, dtype=None):
    if LEAF:
        return torch.nn.Parameter(own(values_, dtype))
    return own(values_, dtype).requires_grad_(True).clone()  # the differentiable path's non-leaf


def view_indices(where):
    """The storage index of every element of the view WHERE, in row-major order."""
    index = np.arange(where["size"], dtype=np.int64)[where["offset"]:]
    return np.lib.stride_tricks.as_strided(
        index, where["shape"], [8 * s for s in where["strides"]]).reshape(-1).copy()


def canaries(size):
    """What a storage holds outside the views: -(17 + i mod 16) / 8 at element i."""
    return -(17.0 + np.arange(size) % 16) / 8.0


def placed(values_, where):
    """A tensor of ``values_`` as the strided view WHERE (shape, strides and offset in
    elements) into a storage of canaries; returns the tensor and its storage."""
    storage = tensor(canaries(where["size"]))
    storage[torch.as_tensor(view_indices(where))] = tensor(np.ravel(values_))
    if not LEAF:  # the differentiable path's non-leaf
        storage = storage.requires_grad_(True).clone()
        return storage.as_strided(where["shape"], where["strides"], where["offset"]), storage
    return torch.nn.Parameter(storage.as_strided(where["shape"], where["strides"],
                                                 where["offset"])), storage


def gradient(values_, where):
    """A gradient tensor of ``values_``, laid out as the view WHERE (None: contiguous)."""
    return (tensor(values_, pad=1.0) if where is None else placed(values_, where)[0]).detach()


def construct(cls, groups):
    """CLS over ``groups``; with INNER, a Lookahead wrapper CLS around INNER over them (the
    keywords the wrapper takes, WRAPPER_KEYS, go to it, the others to INNER)."""
    if INNER is None:
        return cls(groups, **REQUIRED, **KWARGS)
    module, _, name = INNER.partition(":")
    inner = getattr(importlib.import_module(module), name)
    own = {k: v for k, v in KWARGS.items() if k in WRAPPER_KEYS}
    rest = {k: v for k, v in KWARGS.items() if k not in WRAPPER_KEYS and k != "inner"}
    return cls(inner(groups, **REQUIRED, **rest), **own)


_COMPILED = []
_STEPPED = []
_CACHE = contextlib.ExitStack()


def step_of(optimizer, closure=None):
    """``optimizer.step(closure)``; with COMPILE, through one function compiled by
    torch.compile, each optimizer the first time it steps as in a fresh process on a fresh
    machine (dynamo's caches reset, inductor's caches empty), the fallback to the eager step
    past the recompile limit an error."""
    if not COMPILE:
        return optimizer.step() if closure is None else optimizer.step(closure)
    if not _COMPILED:
        torch._dynamo.config.recompile_limit = 256
        torch._dynamo.config.fail_on_recompile_limit_hit = True
        _COMPILED.append(torch.compile(lambda o, c: o.step() if c is None else o.step(c)))
    if not any(o is optimizer for o in _STEPPED):
        import torch._inductor.utils

        torch._dynamo.reset()
        _CACHE.close()
        _CACHE.enter_context(torch._inductor.utils.fresh_cache())
        _STEPPED.append(optimizer)
    return _COMPILED[0](optimizer, closure)


def inner_of(optimizer):
    """The optimizer that keeps m and v: a wrapper's inner optimizer, else itself."""
    if INNER is None:
        return optimizer
    return next(v for v in vars(optimizer).values()
                if isinstance(v, torch.optim.Optimizer) and v is not optimizer)


def state_of(optimizer, param):
    """Everything kept for ``param``: the (inner) optimizer's state, and a wrapper's own."""
    state = dict(inner_of(optimizer).state.get(param, {}))
    if INNER is not None:
        state.update(optimizer.state.get(param, {}))
    return state


class Run:
    """The optimizer over GROUPS and its parameter tensors."""

    def __init__(self, cls, groups=None):
        placements = PLACEMENTS if groups is None else [None] * len(groups)
        dtypes = DTYPES if groups is None else [None] * len(groups)
        groups = GROUPS if groups is None else groups
        self.cls = cls
        wheres = [where or [None] * len(g["params"]) for g, where in zip(groups, placements)]
        self.dtypes = [kinds or [None] * len(g["params"]) for g, kinds in zip(groups, dtypes)]
        made = [[(parameter(p, d), None) if w is None else placed(p, w["param"])
                 for p, w, d in zip(g["params"], row, kinds)]
                for g, row, kinds in zip(groups, wheres, self.dtypes)]
        self.tensors = [[t for t, _ in row] for row in made]
        self.storages = [[s for _, s in row] for row in made]
        self.grad_views = [[None if w is None else w["grad"] for w in row] for row in wheres]
        self.sizes = [[len(p) for p in g["params"]] for g in groups]
        self.groups = [dict(g) for g in groups]
        self.optimizer = construct(cls, [{**g, "params": ts}
                                         for g, ts in zip(groups, self.tensors)])

    def held_dtypes(self):
        """The dtypes this optimizer class keeps m and v in, from one step on a probe."""
        probe = parameter([0.5])
        optimizer = construct(self.cls, [{**{k: v for k, v in GROUPS[0].items()
                                             if k != "params"}, "params": [probe]}])
        probe.grad = tensor([0.5]).detach()
        step_of(optimizer)
        state = state_of(optimizer, probe)
        return [str(state[key].dtype).removeprefix("torch.") if key in state else None
                for key in (M_KEY, V_KEY)]

    def inject(self, start):
        m_dtype, v_dtype = self.held_dtypes()
        for g, (tensors, states) in enumerate(zip(self.tensors, start)):
            for p, s in zip(tensors, states):
                with torch.no_grad():
                    p.copy_(tensor(s["theta"]).reshape(p.shape))
                entry = {M_KEY: tensor(s["m"], m_dtype).reshape(p.shape),
                         V_KEY: tensor(s["v"], v_dtype, pad=1.0).reshape(p.shape)}
                if MAX_KEY is not None:  # AMSGrad's running maximum: v where none is given
                    held = s["v"] if s.get("v_max") is None else s["v_max"]
                    entry[MAX_KEY] = tensor(held, v_dtype, pad=1.0).reshape(p.shape)
                outer = {}  # a Lookahead wrapper's own state for the tensor
                # Lookahead's slow weights, from step SLOW_FROM on: theta where none given
                if SLOW_KEY is not None and (s.get("slow") is not None or s["t"] >= SLOW_FROM):
                    phi = s["theta"] if s.get("slow") is None else s["slow"]
                    (outer if SLOW_OUTER else entry)[SLOW_KEY] = tensor(phi).reshape(p.shape)
                entry.update(dict.fromkeys(EMPTY_KEYS))
                step = (torch.tensor(float(s["t"]), dtype=getattr(torch, STEP_DTYPE))
                        if STEP_DTYPE else STEP_TYPE(s["t"]))
                group = self.optimizer.param_groups[g]
                group.update(GROUP_SET)
                for name, modulus in COUNTERS.items():  # a Lookahead wrapper's, after t steps
                    group[name] = s["t"] if modulus is None else s["t"] % getattr(
                        self.optimizer, modulus)
                if STEP_IN_GROUP:
                    group[STEP_KEY] = step
                else:
                    entry[STEP_KEY] = step
                inner_of(self.optimizer).state[p] = entry
                if INNER is not None:
                    self.optimizer.state.pop(p, None)
                    if outer:
                        self.optimizer.state[p] = outer

    def add_group(self, group):
        tensors = [parameter(p) for p in group["params"]]
        self.optimizer.add_param_group({**group, "params": tensors})
        self.tensors.append(tensors)
        self.sizes.append([len(p) for p in group["params"]])
        self.groups.append(dict(group))
        self.storages.append([None] * len(tensors))
        self.grad_views.append([None] * len(tensors))
        self.dtypes.append([None] * len(tensors))

    def retune(self, hypers):
        """Set the first groups' hyperparameters in the live optimizer, as a schedule does."""
        for group, entry in zip(self.optimizer.param_groups, hypers):
            group.update(entry)

    def step(self, grads):
        for tensors, group, views, kinds in zip(self.tensors, grads, self.grad_views, self.dtypes):
            for p, g, view, kind in zip(tensors, group, views, kinds):
                p.grad = (None if g is None else gradient(g, view) if kind is None
                          else own(g, kind).reshape(p.shape))
        step_of(self.optimizer)

    def canaries_changed(self):
        """The first storage element outside a parameter's view that no longer holds its
        canary, in words (None: every canary is unchanged)."""
        for g, row in enumerate(self.storages):
            for p, storage in enumerate(row):
                if storage is None:
                    continue
                where = PLACEMENTS[g][p]["param"]
                inside = np.zeros(where["size"], dtype=bool)
                inside[view_indices(where)] = True
                held, canary = values(storage, where["size"]), canaries(where["size"])
                changed = np.flatnonzero(~inside & (held != canary))
                if changed.size:
                    i = int(changed[0])
                    return (f"group {g}, tensor {p} ({where['kind']} view, strides "
                            f"{where['strides']}, offset {where['offset']}): storage[{i}] held "
                            f"the canary {float(canary[i])!r} and now holds {float(held[i])!r}")
        return None

    def views_left(self):
        """The first parameter whose storage's view no longer holds the parameter's values
        (the parameter was given new storage), in words (None: every view holds its
        parameter)."""
        for g, row in enumerate(self.storages):
            for p, storage in enumerate(row):
                if storage is None:
                    continue
                where = PLACEMENTS[g][p]["param"]
                index = view_indices(where)
                held = values(storage, where["size"])[index]
                param = values(self.tensors[g][p], self.tensors[g][p].numel())
                apart = np.flatnonzero(~((held == param) | (np.isnan(held) & np.isnan(param))))
                if apart.size:
                    j = int(apart[0])
                    return (f"group {g}, tensor {p} ({where['kind']} view, strides "
                            f"{where['strides']}, offset {where['offset']}) no longer holds the "
                            f"parameter: its element {j} (storage[{int(index[j])}]) is "
                            f"{float(held[j])!r} where the parameter reads {float(param[j])!r}")
        return None

    def step_closure(self, grads):
        """step(closure): (calls, gradients enabled in each, what it returned, the loss)."""
        loss = torch.tensor(0.25, dtype=torch.float64)
        enabled = []

        def closure():
            enabled.append(torch.is_grad_enabled())
            for tensors, group in zip(self.tensors, grads):
                for p, g in zip(tensors, group):
                    p.grad = None if g is None else tensor(g, pad=1.0).detach()
            return loss

        for tensors in self.tensors:
            for p in tensors:
                p.grad = None
        returned = step_of(self.optimizer, closure)
        return len(enabled), enabled, returned, loss

    def held(self, param):
        return state_of(self.optimizer, param)

''' + STATE_METHODS + '''    def change_hypers(self):
        disturb(self.optimizer.param_groups)

    def hypers(self):
        def plain(x):
            return [plain(y) for y in x] if isinstance(x, (tuple, list)) else (
                x.item() if hasattr(x, "item") else x)
        keys = (*HYPER_KEYS, "maximize")
        return [{k: plain(g[k]) for k in keys if k in g} for g in self.optimizer.param_groups]
'''


def _dtype_name(dtype: Any) -> str | None:
    return None if dtype is None else str(dtype).removeprefix("torch.")


def driver(adapter: TorchAdapter, scenario: Scenario) -> Driver:
    """The torch driver for ``scenario`` on ``adapter``'s configuration."""
    import torch

    from radam_verify.suite.scenario import scenario_json

    kwargs = constructor_kwargs(adapter.capabilities.code_paths[scenario.path]
                                if scenario.path else adapter.kwargs)
    groups = scenario.all_groups()
    if ("maximize" in adapter._accepts and not adapter._maximize_in_group
            and "maximize" not in kwargs):
        kwargs["maximize"] = groups[0].hyper.maximize

    def entry(group: Any) -> dict[str, object]:
        found = adapter._group_dict(group, [])
        found["params"] = [[float(x) for x in np.ravel(p)] for p in group.params]
        return found

    layout = adapter.keys
    sample = layout.step_sample
    step_dtype = _dtype_name(sample.dtype) if isinstance(sample, torch.Tensor) else None
    start = scenario_json(scenario).get("start")
    step_type = type(sample).__name__ if step_dtype is None and sample is not None else "int"
    text = "".join([
        literal("DEVICE", adapter.device),
        f"# the real dtype of the parameters\nREAL = torch.{adapter.fmt.name}\n",
        literal("COMPLEX", adapter.complex_params,
                 "complex parameters hold consecutive pairs of the real values"),
        literal("LEAF", not kwargs.get("differentiable", False)),
        literal("KWARGS", kwargs, "constructor keywords (the code path)"),
        literal("COMPILE", adapter.compiled is not None,
                "the step is compiled by torch.compile (True) or eager"),
        literal("INNER", adapter.kwargs.get("inner") if adapter.inner_cls else None,
                "the optimizer a Lookahead wrapper wraps (None: the class is the optimizer)"),
        literal("WRAPPER_KEYS", sorted(adapter.wrapper_keys),
                "the keywords the wrapper takes (the others go to INNER)"),
        literal("REQUIRED", adapter.names.constructor(groups[0].hyper),
                "constructor arguments without a default (from the first group)"),
        literal("HYPER_KEYS", [adapter.names.group_lr, *adapter.names.group_betas,
                               adapter.names.group_eps, "weight_decay"],
                "the keys the optimizer keeps its hyperparameters under in each group"),
        literal("M_KEY", layout.m_key, "where the optimizer keeps m, v and its step count"),
        literal("V_KEY", layout.v_key),
        literal("STEP_KEY", layout.step_key),
        literal("MAX_KEY", layout.max_key, "AMSGrad's running maximum (None: not kept)"),
        literal("SLOW_KEY", layout.slow_key, "Lookahead's slow weights (None: not kept)"),
        literal("SLOW_OUTER", layout.slow_outer,
                "the slow weights are kept in the wrapper's own state, not INNER's"),
        literal("SLOW_FROM", adapter.slow_from,
                "the step count from which the reading holds slow weights"),
        literal("COUNTERS", {name: GROUP_COUNTERS[name] for name in layout.counters},
                "a Lookahead wrapper's counters in each group, and the wrapper attribute "
                "they count modulo (None: the step count)"),
        literal("STEP_IN_GROUP", layout.step_in_group),
        literal("EMPTY_KEYS", list(layout.empty_keys),
                "state entries a step creates empty (kept so, as the optimizer expects)"),
        literal("GROUP_SET", dict(layout.group_set),
                "group entries the optimizer sets on its first step (set before injecting)"),
        literal("STEP_DTYPE", step_dtype),
        f"STEP_TYPE = {step_type}\n",
        literal("GROUPS", [entry(g) for g in scenario.groups],
                 "the parameter groups: torch's hyperparameters and the initial values"),
        literal("PLACEMENTS", [None if g.placements is None else
                               [{"param": w.param.json(), "grad": w.grad.json()}
                                for w in g.placements] for g in scenario.groups],
                "per group (None: tensors of their own): each parameter as a strided view "
                "into a storage of canaries, and the layout of its gradients (shape, strides "
                "and offset in elements)"),
        literal("DTYPES", [None if g.dtypes is None else
                           [None if d == adapter.fmt.name else d for d in g.dtypes]
                           for g in scenario.groups],
                "per group (None: every parameter in REAL): a parameter's own dtype where it "
                "differs from REAL"),
        literal("ADDED", [[k, entry(g)] for k, g in scenario.added],
                 "groups added with add_param_group before step k (0-based)"),
        literal("START", start,
                 "the state injected before the first step (None: a fresh optimizer)"),
    ])
    retuned = tuple((k, tuple(adapter.names.group(h) for h in hypers))
                    for k, hypers in scenario.retuned)
    return Driver("torch and numpy", "import torch\n", text, RUN_CLASS, retuned)
