#!/usr/bin/env python3
"""paddle.optimizer:RAdam, the default path, float32 on cpu: theta[54] of group 0, tensor 1
after step 6 is inf where the exact value is 11537685943566857.198 (error inf ulps against a
bound of 6.76e+05 ulps of the operand scale) with eps = 0.0 (1 step, 1 group, 2 tensors of
shapes () and (63,)).

Found by the property "Tensors of every size and shape follow the exact step: default"
(convention pytorch,scalars=float32-held,powers=running) for paddle.optimizer:RAdam
(paddlepaddle 3.3.1), float32 on cpu. This script needs only paddlepaddle and numpy: not
radam-verify and not Hypothesis. It runs the counterexample's first 1 step(s) and compares
theta of group 0, tensor 1 (step count 6) with EXACT, element by element, within BOUND.

EXACT and BOUND: the exact values come from radam-verify's reference, which evaluates the
pytorch,scalars=float32-held,powers=running convention's step in mpmath at 128 bits on the
inputs as given (every float converts to a binary rational exactly; the result is exact to
far beyond the 20 digits kept here). BOUND is radam-verify's error model (a running error
analysis, derivations/error-model.md) for float32 arithmetic with the scalar schedule
evaluated in binary64, accumulated over the steps taken: the largest distance from EXACT a
correct implementation may have.

Run: python THIS_FILE [MODULE:ATTR] (default paddle.optimizer:RAdam; any implementation with
the same API, e.g. a fixed version). Exit status: 1 while the deviation is there, 0 once it
is gone.
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
import paddle
from paddle.base.unique_name import UniqueNameGenerator
from paddle.utils import unique_name

SPEC = 'paddle.optimizer:RAdam'
# the dtype of the parameters
REAL = 'float32'
# the constructor's keywords
KWARGS = {}
# the parameter groups as Paddle takes them (learning_rate: the scale of the optimizer's learning_rate=1.0) and the initial values
GROUPS = [
    {'learning_rate': 0.001, 'beta1': 0.9, 'beta2': 0.999, 'epsilon': 0.0, 'params': [[1.0], [1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0]]},
]
# Paddle optimizers take no groups after construction
ADDED = []
# the state injected before the first step (None: a fresh optimizer)
START = [
    [{'theta': [1.0], 'm': [1.0], 'v': [1.0], 't': 5}, {'theta': [1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0], 'm': [1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0], 'v': [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1070257868166055e-43, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 't': 5}],
]
# [k, each group's hyperparameters]: set in the live optimizer before step k (0-based), as a schedule sets them
RETUNED = []
# the gradients: STEPS[step][group][tensor] (None: no gradient that step)
STEPS = [
    [([1.0], [1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.1070257868166055e-43, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0])],
]
# the exact values (decimal, 20 significant digits)
EXACT = [
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '11537685943566857.198',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
    '-0.99999573677915303272',
]
# the largest |observed - exact| a correct implementation may have
BOUND = [
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    725726863910144.9,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
    3.3214143650694607e-07,
]
# what is compared
CHECK = {'kind': 'exact', 'steps': 1, 't': 6, 'group': 0, 'tensor': 1, 'quantity': 'theta', 'index': 54}
PRINTED = 24


def tensor(values):
    """A tensor of ``values`` in the parameters' dtype."""
    return paddle.to_tensor(np.asarray(values, dtype=np.float64).astype(REAL), dtype=REAL)


def values(data):
    """A tensor's values as a new float64 array."""
    return np.asarray(data.numpy()).astype(np.float64).reshape(-1)


class Run:
    """The Paddle optimizer over GROUPS and its parameters, under a name generator of its own."""

    def __init__(self, cls, groups=None):
        groups = GROUPS if groups is None else groups
        self.cls, self.groups = cls, [dict(g) for g in groups]
        self.names = UniqueNameGenerator()
        with unique_name.guard(self.names):
            self.tensors = [[paddle.create_parameter(
                [len(p)], dtype=REAL,
                default_initializer=paddle.nn.initializer.Assign(np.asarray(p, dtype=REAL)))
                for p in g["params"]] for g in groups]
            entries = [{**{k: v for k, v in g.items() if k != "params"}, "params": ts}
                       for g, ts in zip(groups, self.tensors)]
            self.optimizer = cls(learning_rate=1.0, parameters=entries, **KWARGS)
        self.sizes = [[len(p) for p in g["params"]] for g in groups]
        self.pending = {}

    def state(self, g, p, name):
        state = self.optimizer.state_dict() or self.pending
        prefix = f"{self.tensors[g][p].name}_{name}_"
        return next((v for k, v in state.items() if k.startswith(prefix)), None)

    def inject(self, start):
        wanted = {}
        for g, (tensors, states) in enumerate(zip(self.tensors, start)):
            getcontext().prec = 80
            # the powers of the betas as the kernel holds them (float attributes: binary32)
            b1, b2 = (Decimal(float(np.float32(self.groups[g][b]))) for b in ("beta1", "beta2"))
            for p, s in zip(tensors, states):
                p.set_value(np.asarray(s["theta"], dtype=REAL))
                t, n = int(s["t"]), len(s["theta"])
                # b1^t, b2^t and t b2^t / (1 - b2^t) to 80 digits, then rounded once
                rho = (1.0 if not t else float("inf") if b2 == 1
                       else float(t * b2**t / (1 - b2**t)))
                powers = {"moment1": s["m"], "moment2": s["v"], "beta1_pow": [float(b1**t)] * n,
                          "beta2_pow": [float(b2**t)] * n, "rho": [rho] * n}
                for name, held in powers.items():
                    wanted[f"{p.name}_{name}_0"] = tensor(held)
        with unique_name.guard(self.names):
            self.optimizer.set_state_dict(wanted)
        self.pending = wanted

    def add_group(self, group):
        raise RuntimeError("a Paddle optimizer has no public add_param_group")

    def step(self, grads):
        for tensors, group in zip(self.tensors, grads):
            for p, g in zip(tensors, group):
                if g is None:
                    p.clear_gradient(False)
                else:
                    p.grad = tensor(g)
        with unique_name.guard(self.names):
            self.optimizer.step()
        self.pending = {}

    def read(self, g, p, quantity):
        if quantity == "theta":
            return values(self.tensors[g][p])
        if quantity in ("v_max", "slow"):  # no AMSGrad maximum, no Lookahead in its RAdam
            return None
        held = self.state(g, p, "moment1" if quantity == "m" else "moment2")
        return None if held is None else values(held)

    def copy(self, cls):
        groups = [{**group, "params": [values(t).tolist() for t in ts]}
                  for group, ts in zip(self.groups, self.tensors)]
        return Run(cls, groups)

    def save(self):
        buffer = io.BytesIO()
        paddle.save(self.optimizer.state_dict(), buffer)
        return buffer.getvalue()

    def load(self, saved):
        state = paddle.load(io.BytesIO(saved))
        with unique_name.guard(self.names):
            self.optimizer.set_state_dict(state)
        self.pending = state

    def load_live(self, source):
        state = source.optimizer.state_dict()
        with unique_name.guard(self.names):
            self.optimizer.set_state_dict(state)
        self.pending = dict(state)

        def change():  # every tensor of that state dict object + 1, in place
            for held in state.values():
                if hasattr(held, "set_value"):
                    held.set_value(np.asarray(held.numpy()) + 1)
        return change

    def retune(self, hypers):
        """Set the first groups' hyperparameters where Paddle reads them at the next step, as
        its _add_param_group sets them (Paddle's own group keys)."""
        for group, entry in zip(self.optimizer._param_groups, hypers):
            group.update(entry)
            decay = entry.get("weight_decay")
            for param in group["params"]:
                param.optimize_attr["learning_rate"] = entry["learning_rate"]
                param.regularizer = paddle.regularizer.L2Decay(decay) if decay else None

    def change_hypers(self):
        for group in self.optimizer._param_groups:
            for key in ("beta1", "beta2", "epsilon"):
                if isinstance(group.get(key), float):
                    group[key] *= 0.5

    def rounded(self, given):
        return values(tensor(given))

    def grads(self):
        return [[None if t.grad is None else values(t.grad) for t in ts] for ts in self.tensors]

    def hypers(self):
        return [{k: getattr(v, "_coeff", v) for k, v in group.items() if k != "params"}
                for group in self.optimizer._param_groups]


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
