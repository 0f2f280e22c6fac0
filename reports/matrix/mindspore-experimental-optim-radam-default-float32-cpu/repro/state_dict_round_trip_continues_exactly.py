#!/usr/bin/env python3
"""mindspore.experimental.optim:RAdam, the default path, float32 on cpu: state_dict round trip:
the implementation raised ValueError: The divisor could not be zero. But the divisor is zero
now. (in optimizer(gradients)) with beta2 = 0.99999999 (2 steps, 1 group, 1 tensor of shape
(6,)).

Found by the property "State dict round trip continues exactly" (convention pytorch) for
mindspore.experimental.optim:RAdam (mindspore 2.10.0), float32 on cpu. This script needs
only MindSpore and numpy: not radam-verify and not Hypothesis. It saves the optimizer's
state after step 1, loads it into a new optimizer over the same parameter values, and
compares every later step bit for bit with the uninterrupted run. There the implementation
raised: ValueError: The divisor could not be zero. But the divisor is zero now. (in
optimizer(gradients)).

Run: python THIS_FILE [MODULE:ATTR] (default mindspore.experimental.optim:RAdam; any
implementation with the same API, e.g. a fixed version). Exit status: 1 while the deviation
is there, 0 once it is gone.
"""
import importlib
import io  # noqa: F401
import math
import pickle  # noqa: F401
import sys
import traceback
from decimal import Decimal, getcontext

import numpy as np
import os
import tempfile

os.environ.setdefault("GLOG_v", "3")
# MindSpore writes the graph of a failed compilation there (else into ./rank_0)
os.environ.setdefault("MS_OM_PATH", tempfile.mkdtemp())

import mindspore  # noqa: E402

SPEC = 'mindspore.experimental.optim:RAdam'
# the dtype of the parameters
DTYPE = 'float32'
# the constructor's keywords
KWARGS = {}
# the parameter groups as MindSpore takes them, and the initial values
GROUPS = [
    {'lr': 0.001, 'betas': (0.9, 0.99999999), 'eps': 1e-08, 'weight_decay': 0.0, 'params': [[-1.0, -1.0, -1.0, -1.0, -1.0, -1.0]]},
]
# MindSpore's optimizers take no groups later
ADDED = []
# the state injected before the first step (None: a fresh optimizer)
START = None
# the gradients: STEPS[step][group][tensor] (None: no gradient that step)
STEPS = [[([0.0, 0.0, 0.0, 0.0, 0.0, 0.0],)], [([0.0, 0.0, 0.0, 0.0, 0.0, 0.0],)]]
# what is compared
CHECK = {'kind': 'reload', 'save_at': 1}
PRINTED = 24


mindspore.set_device("CPU")


def tensor(values):
    return mindspore.Tensor(np.asarray(values, dtype=np.float64).astype(DTYPE),
                            getattr(mindspore, DTYPE))


def flat(values):
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


class Run:
    """The MindSpore optimizer over GROUPS and its Parameters."""

    def __init__(self, cls, groups=None):
        self.groups = GROUPS if groups is None else groups
        self.params = [[mindspore.Parameter(tensor(p), name=f"g{k}p{i}")
                        for i, p in enumerate(g["params"])] for k, g in enumerate(self.groups)]
        entries = [{**{k: v for k, v in g.items() if k != "params"}, "params": ps}
                   for g, ps in zip(self.groups, self.params)]
        self.optimizer = cls(entries, **KWARGS)
        self.sizes = [[len(p) for p in g["params"]] for g in self.groups]
        self.last = []

    def held(self, prefix, param):
        return next(p for name, p in self.optimizer.parameters_and_names()
                    if name == f"{prefix}.{param.name}")

    def add_group(self, group):
        raise RuntimeError("MindSpore's optimizers take their groups at construction")

    def inject(self, start):
        self.optimizer.step_t.set_data(mindspore.Tensor(int(start[0][0]["t"]), mindspore.int32))
        for params, states in zip(self.params, start):
            for p, s in zip(params, states):
                p.set_data(tensor(s["theta"]))
                self.held("exp_avg", p).set_data(tensor(s["m"]))
                self.held("exp_avg_sq", p).set_data(tensor(s["v"]))

    def step(self, grads):
        self.last = [[tensor(g) for g in group] for group in grads]
        self.optimizer(tuple(g for group in self.last for g in group))

    def read(self, g, p, quantity):
        param = self.params[g][p]
        if quantity == "theta":
            return flat(param.asnumpy())
        return flat(self.held("exp_avg" if quantity == "m" else "exp_avg_sq", param).asnumpy())

    def copy(self, cls):
        groups = [{**group, "params": [flat(p.asnumpy()).tolist() for p in params]}
                  for group, params in zip(self.groups, self.params)]
        return Run(cls, groups)

    def save(self):
        path = os.path.join(tempfile.mkdtemp(), "optimizer.ckpt")
        mindspore.save_checkpoint(self.optimizer, path)
        return path

    def load(self, saved):
        mindspore.load_param_into_net(self.optimizer, mindspore.load_checkpoint(saved),
                                      strict_load=True)

    def rounded(self, given):
        return flat(tensor(given).asnumpy())

    def grads(self):
        return [[flat(g.asnumpy()) for g in group] for group in self.last]

    def hypers(self):
        return [{k: (v.asnumpy().tolist() if hasattr(v, "asnumpy") else v)
                 for k, v in group.items() if k != "params"}
                for group in self.optimizer.param_groups]


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
        state.step(grads)
    return state


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
                for name in ("theta", "m", "v"):
                    a, b = resumed.read(g, p, name), straight.read(g, p, name)
                    if not same(a, b):
                        print(f"step {k + 1} (state saved after step {save_at}): {name} of group "
                              f"{g}, tensor {p} is {a} after reloading, {b} without")
                        return True
    print("the reloaded run continues bit for bit")
    return False


def read_all(state):
    """theta, m and v of every tensor: ``[group][tensor][quantity]``."""
    return [[{name: state.read(g, p, name) for name in ("theta", "m", "v")}
             for p in range(len(group))] for g, group in enumerate(state.sizes)]


def first_difference(left, right, names):
    """Where two snapshots of read_all first differ, in words (None: bit for bit equal)."""
    for g, (group_l, group_r) in enumerate(zip(left, right)):
        for p, (a, b) in enumerate(zip(group_l, group_r)):
            for name in ("theta", "m", "v"):
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
                for name in ("theta", "m", "v"):
                    a, b = through.read(g, p, name), plain.read(g, p, name)
                    if not same(a, b):
                        print(f"step {k}: {name} of group {g}, tensor {p} is {a} through "
                              f"step(closure), {b} through step()")
                        return True
    print("each step called its closure once, with gradients enabled, returned its loss and "
          "stepped as step() does")
    return False


def check_placed(cls):
    """Every canary around the parameters' views unchanged after every step; then EXACT."""
    state = Run(cls)
    if START is not None:
        state.inject(START)
    for k, grads in enumerate(STEPS, start=1):
        state.step(grads)
        found = state.canaries_changed()
        if found is not None:
            print(f"step {k} wrote outside the view of {found}")
            return True
    print("every canary outside the parameters' views is unchanged")
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
                    "placed": check_placed, "transplant": check_transplant}[CHECK["kind"]](cls)
    except Exception:  # the implementation raised: that is the deviation
        traceback.print_exc()
        print("the implementation raised the exception above")
        deviates = True
    print("DEVIATES" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
