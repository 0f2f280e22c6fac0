#!/usr/bin/env python3
"""radam_verify.timm_optim:Lookahead, the default path, float64 on cpu: state dict loaded in
process: the loaded optimizer is not a copy: step 2 of the optimizer that loaded the state
dict changed the optimizer it came from: group 0, tensor 0: m[0] = -0.18999999999999995 now,
-0.09999999999999998 before with the default hyperparameters (3 steps, 1 group, 1 tensor of
shape (6,)).

Found by the property "A loaded state dict is a copy" (convention
pytorch,lookahead_k=6,lookahead_start=first-sync,lookahead_count=group) for
radam_verify.timm_optim:Lookahead (timm 1.0.31, torch 2.13.0+cpu), float64 on cpu. This
script needs only torch and numpy: not radam-verify and not Hypothesis. After step 1 a new
optimizer loads the state dict object of the first one in process
(load_state_dict(source.state_dict()), no serialization), and a control loads a serialized
copy of it. Then the state dict object is changed in place (every tensor + 1, every
hyperparameter halved), the first optimizer's hyperparameters are changed and it takes a
step. The script checks that a step of the loaded optimizer leaves the first one alone, and
that the loaded optimizer continues bit for bit as the control.

Run: python THIS_FILE [MODULE:ATTR] (default radam_verify.timm_optim:Lookahead; any
implementation with the same API, e.g. a fixed version). Exit status: 1 while the deviation
is there, 0 once it is gone.
"""
import contextlib  # noqa: F401
import importlib
import io  # noqa: F401
import math
import pickle  # noqa: F401
import sys
import traceback
from decimal import Decimal, getcontext

import numpy as np
import torch

SPEC = 'radam_verify.timm_optim:Lookahead'
DEVICE = 'cpu'
# the real dtype of the parameters
REAL = torch.float64
# complex parameters hold consecutive pairs of the real values
COMPLEX = False
LEAF = True
# constructor keywords (the code path)
KWARGS = {'inner': 'torch.optim:RAdam', 'foreach': False}
# the step is compiled by torch.compile (True) or eager
COMPILE = False
# the optimizer a Lookahead wrapper wraps (None: the class is the optimizer)
INNER = 'torch.optim:RAdam'
# the keywords the wrapper takes (the others go to INNER)
WRAPPER_KEYS = ['alpha', 'k']
# constructor arguments without a default (from the first group)
REQUIRED = {}
# the keys the optimizer keeps its hyperparameters under in each group
HYPER_KEYS = ['lr', 'betas', 'eps', 'weight_decay']
# where the optimizer keeps m, v and its step count
M_KEY = 'exp_avg'
V_KEY = 'exp_avg_sq'
STEP_KEY = 'step'
# AMSGrad's running maximum (None: not kept)
MAX_KEY = None
# Lookahead's slow weights (None: not kept)
SLOW_KEY = 'lookahead_slow_buff'
# the slow weights are kept in the wrapper's own state, not INNER's
SLOW_OUTER = False
# the step count from which the reading holds slow weights
SLOW_FROM = 6
# a Lookahead wrapper's counters in each group, and the wrapper attribute they count modulo (None: the step count)
COUNTERS = {'lookahead_step': None}
STEP_IN_GROUP = False
# state entries a step creates empty (kept so, as the optimizer expects)
EMPTY_KEYS = []
# group entries the optimizer sets on its first step (set before injecting)
GROUP_SET = {}
STEP_DTYPE = 'float32'
STEP_TYPE = int
# the parameter groups: torch's hyperparameters and the initial values
GROUPS = [
    {'params': [[-1.0, -1.0, -1.0, -1.0, -1.0, -1.0]], 'lr': 0.001, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 0.0, 'maximize': False},
]
# per group (None: tensors of their own): each parameter as a strided view into a storage of canaries, and the layout of its gradients (shape, strides and offset in elements)
PLACEMENTS = [None]
# per group (None: every parameter in REAL): a parameter's own dtype where it differs from REAL
DTYPES = [None]
# groups added with add_param_group before step k (0-based)
ADDED = []
# the state injected before the first step (None: a fresh optimizer)
START = None
# [k, each group's hyperparameters]: set in the live optimizer before step k (0-based), as a schedule sets them
RETUNED = []
# the gradients: STEPS[step][group][tensor] (None: no gradient that step)
STEPS = [
    [([-1.0, -1.0, -1.0, -1.0, -1.0, -1.0],)],
    [([-1.0, -1.0, -1.0, -1.0, -1.0, -1.0],)],
    [([-1.0, -1.0, -1.0, -1.0, -1.0, -1.0],)],
]
# what is compared
CHECK = {'kind': 'transplant', 'save_at': 1}
PRINTED = 24


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

    def change_hypers(self):
        disturb(self.optimizer.param_groups)

    def hypers(self):
        def plain(x):
            return [plain(y) for y in x] if isinstance(x, (tuple, list)) else (
                x.item() if hasattr(x, "item") else x)
        keys = (*HYPER_KEYS, "maximize")
        return [{k: plain(g[k]) for k in keys if k in g} for g in self.optimizer.param_groups]


def load(spec):
    """MODULE:ATTR -> the object (ATTR may be dotted)."""
    module, _, attr = spec.partition(":")
    found = importlib.import_module(module)
    for part in attr.split("."):
        found = getattr(found, part)
    return found


def run(cls, steps):
    """A new optimizer from START (if any), after the first ``steps`` steps."""
    state = Run(cls)
    if START is not None:
        state.inject(START)
    for k, grads in enumerate(STEPS[:steps]):
        for before, group in ADDED:
            if before == k:
                state.add_group(group)
        for before, hypers in RETUNED:
            if before == k:
                state.retune(hypers)
        state.step(grads)
    return state


#: what a run's state holds of each tensor (v_max: AMSGrad's running maximum, None where none)
QUANTITIES = ("theta", "m", "v", "v_max", "slow")


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(a, b, equal_nan=True))


def check_exact(cls):
    """|observed - exact| against BOUND, in exact decimal arithmetic (no rounding of its own)."""
    state = run(cls, CHECK["steps"])
    name = CHECK["quantity"]
    observed = state.read(CHECK["group"], CHECK["tensor"], name)
    if observed is None:
        print(f"{name} cannot be read from this implementation's state")
        return True
    getcontext().prec = 80
    error, bad = [], []
    for value, exact, bound in zip(observed, EXACT, BOUND):
        if not math.isfinite(float(value)):  # NaN and inf are deviations
            error.append(math.inf)
            bad.append(True)
            continue
        distance = abs(Decimal(float(value)) - Decimal(exact))
        error.append(float(distance))
        bad.append(not distance <= Decimal(bound))
    print(f"{name} of group {CHECK['group']}, tensor {CHECK['tensor']} after step {CHECK['t']}:")
    shown = [i for i in range(len(EXACT)) if bad[i]][:PRINTED] or list(range(min(len(EXACT), PRINTED)))
    for i in shown:
        print(f"  {name}[{i}]: exact {EXACT[i]:>25}  observed {float(observed[i])!r:>25}  "
              f"|error| {error[i]:9.3g}  bound {BOUND[i]:9.3g}  {'DEVIATES' if bad[i] else 'ok'}")
    print(f"{sum(bad)} of {len(EXACT)} elements outside their bound")
    return any(bad)


def check_reload(cls):
    save_at = CHECK["save_at"]
    straight, interrupted = run(cls, save_at), run(cls, save_at)
    saved = interrupted.save()
    resumed = interrupted.copy(cls)
    resumed.load(saved)
    for k in range(save_at, len(STEPS)):
        straight.step(STEPS[k])
        resumed.step(STEPS[k])
        for g, group in enumerate(straight.sizes):
            for p in range(len(group)):
                for name in QUANTITIES:
                    a, b = resumed.read(g, p, name), straight.read(g, p, name)
                    if not same(a, b):
                        print(f"step {k + 1} (state saved after step {save_at}): {name} of group "
                              f"{g}, tensor {p} is {a} after reloading, {b} without")
                        return True
    print("the reloaded run continues bit for bit")
    return False


def read_all(state):
    """theta, m, v and v_max of every tensor: ``[group][tensor][quantity]``."""
    return [[{name: state.read(g, p, name) for name in QUANTITIES}
             for p in range(len(group))] for g, group in enumerate(state.sizes)]


def first_difference(left, right, names):
    """Where two snapshots of read_all first differ, in words (None: bit for bit equal)."""
    for g, (group_l, group_r) in enumerate(zip(left, right)):
        for p, (a, b) in enumerate(zip(group_l, group_r)):
            for name in QUANTITIES:
                if not same(a[name], b[name]):
                    return (f"{name} of group {g}, tensor {p} is {a[name]} {names[0]}, "
                            f"{b[name]} {names[1]}")
    return None


def check_transplant(cls):
    """An optimizer that loaded another's state dict object in process continues as one
    loaded from a serialized copy, whatever that object and the other optimizer do next."""
    save_at = CHECK["save_at"]
    source = run(cls, save_at)
    loaded, control = source.copy(cls), source.copy(cls)
    control.load(source.save())
    change_loaded_dict = loaded.load_live(source)
    held = read_all(source)
    loaded.step(STEPS[save_at])
    control.step(STEPS[save_at])
    found = first_difference(read_all(source), held, ("now", "before"))
    if found is not None:
        print(f"step {save_at + 1} of the optimizer that loaded the state dict changed the "
              f"optimizer it came from: {found}")
        return True
    change_loaded_dict()
    source.change_hypers()
    source.step(STEPS[save_at])
    for k in range(save_at, len(STEPS)):
        if k > save_at:
            loaded.step(STEPS[k])
            control.step(STEPS[k])
        found = first_difference(read_all(loaded), read_all(control),
                                 ("in the loaded optimizer", "in one loaded from a serialized copy"))
        if found is not None:
            print(f"step {k + 1} (state dict loaded after step {save_at}; then the state dict "
                  f"object, the source's hyperparameters and, by a step, its state were "
                  f"changed): {found}")
            return True
    print("the optimizer that loaded the state dict object continues bit for bit as one "
          "loaded from a serialized copy")
    return False


def check_unchanged(cls):
    state = Run(cls)
    for k, grads in enumerate(STEPS, start=1):
        before = state.hypers()
        state.step(grads)
        held = state.grads()
        for g, group in enumerate(grads):
            for p, given in enumerate(group):
                if not same(None if given is None else state.rounded(given), held[g][p]):
                    print(f"step {k} changed the gradient of group {g}, tensor {p}: "
                          f"{given} -> {held[g][p]}")
                    return True
        if state.hypers() != before:
            print(f"step {k} changed the group hyperparameters: {before} -> {state.hypers()}")
            return True
    print("no step changed its gradients or hyperparameters")
    return False


def check_frozen(cls):
    state = run(cls, 0)  # START injected, no step yet
    before = {}  # (group, tensor) -> theta as held before its first step
    for k, grads in enumerate(STEPS, start=1):
        for added_before, group in ADDED:
            if added_before == k - 1:
                state.add_group(group)
        for g, sizes in enumerate(state.sizes):
            for p in range(len(sizes)):
                before.setdefault((g, p), state.read(g, p, "theta"))
        state.step(grads)
        for (g, p), was in before.items():
            now = state.read(g, p, "theta")
            changed = now != was
            if CHECK.get("flushes"):  # a subnormal may become zero
                changed &= ~((np.abs(was) < CHECK["smallest_normal"]) & (now == 0.0))
            if changed.any():
                i = int(np.argmax(changed))
                print(f"with lr = 0, step {k} changed theta[{i}] of group {g}, tensor {p} "
                      f"from {float(was[i])!r} to {float(now[i])!r}")
                return True
    print("no step changed a parameter")
    return False


def check_closure(cls):
    through, plain = Run(cls), Run(cls)
    for k, grads in enumerate(STEPS, start=1):
        calls, enabled, returned, loss = through.step_closure(grads)
        plain.step(grads)
        if calls != 1:
            print(f"step {k} called its closure {calls} times")
            return True
        if not all(enabled):
            print(f"step {k} called its closure with gradients disabled")
            return True
        if returned is not loss and (returned is None or float(returned) != float(loss)):
            print(f"step {k} returned {returned!r}, not the closure's loss")
            return True
        for g, group in enumerate(plain.sizes):
            for p in range(len(group)):
                for name in QUANTITIES:
                    a, b = through.read(g, p, name), plain.read(g, p, name)
                    if not same(a, b):
                        print(f"step {k}: {name} of group {g}, tensor {p} is {a} through "
                              f"step(closure), {b} through step()")
                        return True
    print("each step called its closure once, with gradients enabled, returned its loss and "
          "stepped as step() does")
    return False


def check_placed(cls):
    """Every canary around the parameters' views unchanged and every view holding its
    parameter after every step; then EXACT."""
    state = Run(cls)
    if START is not None:
        state.inject(START)
    for k, grads in enumerate(STEPS, start=1):
        state.step(grads)
        found = state.canaries_changed()
        if found is not None:
            print(f"step {k} wrote outside the view of {found}")
            return True
        found = state.views_left()
        if found is not None:
            print(f"after step {k}, the view of {found}")
            return True
    print("every canary outside the parameters' views is unchanged, and every view holds "
          "its parameter")
    return check_exact(cls) if "quantity" in CHECK else False


def check_exception(cls):
    run(cls, len(STEPS))
    print("no exception")
    return False


def main():
    cls = load(sys.argv[1] if len(sys.argv) > 1 else SPEC)
    try:
        deviates = {"exact": check_exact, "reload": check_reload, "unchanged": check_unchanged,
                    "closure": check_closure, "exception": check_exception,
                    "frozen": check_frozen,
                    "placed": check_placed, "transplant": check_transplant}[CHECK["kind"]](cls)
    except Exception:  # the implementation raised: that is the deviation
        traceback.print_exc()
        print("the implementation raised the exception above")
        deviates = True
    print("DEVIATES" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
