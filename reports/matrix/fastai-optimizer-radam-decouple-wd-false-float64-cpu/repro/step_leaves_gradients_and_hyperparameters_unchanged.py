#!/usr/bin/env python3
"""fastai.optimizer:RAdam, the default path, float64 on cpu: step leaves its inputs alone: step
1 changed the gradient of group 0, tensor 0: [-1.  0.  0.  0.  0. -1.] -> [-1. -1.  0. -1.
0. -2.] with weight_decay = 1.0 (2 steps, 1 group, 1 tensor of 6 elements).

Found by the property "Step leaves gradients and hyperparameters unchanged" (convention
paper,threshold=5,eps=hat) for fastai.optimizer:RAdam (fastai 2.8.12, torch 2.13.0+cpu),
float64 on cpu. This script needs only torch, fastai and numpy: not radam-verify and not
Hypothesis. It checks after every step that the gradients and the groups' hyperparameters
are what they were before the step.

Run: python THIS_FILE [MODULE:ATTR] (default fastai.optimizer:RAdam; any implementation with
the same API, e.g. a fixed version). Exit status: 1 while the deviation is there, 0 once it
is gone.
"""
import importlib
import io  # noqa: F401
import math
import pickle  # noqa: F401
import sys
import traceback
from decimal import Decimal, getcontext

import numpy as np
import torch

SPEC = 'fastai.optimizer:RAdam'
DEVICE = 'cpu'
# the dtype of the parameters
REAL = torch.float64
# the factory's keywords
KWARGS = {'decouple_wd': False}
# the hyperparameters set per group
HYPER_KEYS = ['lr', 'mom', 'sqr_mom', 'eps', 'wd']
# where the optimizer keeps m, v and its step count
M_KEY = 'grad_avg'
V_KEY = 'sqr_avg'
STEP_KEY = 'step'
# the parameter groups: fastai's hyperparameter names and the initial values
GROUPS = [
    {'lr': 0.001, 'mom': 0.9, 'sqr_mom': 0.999, 'eps': 1e-08, 'wd': 1.0, 'params': [[0.0, -1.0, 0.0, -1.0, 0.0, -1.0]]},
]
# fastai optimizers take no groups after construction
ADDED = []
# the state injected before the first step (None: a fresh optimizer)
START = None
# the gradients: STEPS[step][group][tensor] (None: no gradient that step)
STEPS = [[([-1.0, 0.0, 0.0, 0.0, 0.0, -1.0],)], [([0.0, 0.0, 0.0, 0.0, 0.0, -1.0],)]]
# what is compared
CHECK = {'kind': 'unchanged'}
PRINTED = 24


def tensor(values):
    """A tensor of ``values`` in the parameters' dtype."""
    return torch.tensor(np.asarray(values, dtype=np.float64), dtype=REAL, device=DEVICE)


def values(data, size):
    """The first ``size`` values of a tensor, as float64 (a copy)."""
    return data.detach().to(device="cpu", dtype=torch.float64, copy=True).numpy().reshape(-1)[:size]


class Run:
    """The fastai optimizer over GROUPS and its parameter tensors."""

    def __init__(self, factory, groups=None):
        groups = GROUPS if groups is None else groups
        self.factory = factory
        self.groups = [dict(g) for g in groups]
        self.tensors = [[torch.nn.Parameter(tensor(p)) for p in g["params"]] for g in groups]
        self.sizes = [[len(p) for p in g["params"]] for g in groups]
        self.optimizer = factory(self.tensors, **{k: groups[0][k] for k in HYPER_KEYS}, **KWARGS)
        for key in HYPER_KEYS:  # each group's own values, as fastai's schedulers set them
            self.optimizer.set_hyper(key, [g[key] for g in groups])

    def inject(self, start):
        for tensors, states in zip(self.tensors, start):
            for p, s in zip(tensors, states):
                with torch.no_grad():
                    p.copy_(tensor(s["theta"]))
                self.optimizer.state[p] = {M_KEY: tensor(s["m"]), V_KEY: tensor(s["v"]),
                                           STEP_KEY: int(s["t"])}

    def add_group(self, group):
        raise RuntimeError("a fastai Optimizer has no add_param_group")

    def step(self, grads):
        for tensors, group in zip(self.tensors, grads):
            for p, g in zip(tensors, group):
                p.grad = None if g is None else tensor(g)
        self.optimizer.step()

    def read(self, g, p, quantity):
        param, size = self.tensors[g][p], self.sizes[g][p]
        if quantity == "theta":
            return values(param, size)
        key = M_KEY if quantity == "m" else V_KEY
        state = self.optimizer.state.get(param, {})
        return None if key is None or key not in state else values(state[key], size)

    def copy(self, factory):
        groups = [{**group, "params": [values(t, n).tolist() for t, n in zip(ts, sizes)]}
                  for group, ts, sizes in zip(self.groups, self.tensors, self.sizes)]
        return Run(factory, groups)

    def save(self):
        buffer = io.BytesIO()
        torch.save(self.optimizer.state_dict(), buffer)
        return buffer.getvalue()

    def load(self, saved):
        self.optimizer.load_state_dict(torch.load(io.BytesIO(saved), weights_only=False))

    def rounded(self, given):
        return values(tensor(given), len(given))

    def grads(self):
        return [[None if t.grad is None else values(t.grad, n) for t, n in zip(ts, sizes)]
                for ts, sizes in zip(self.tensors, self.sizes)]

    def hypers(self):
        return [{k: (v.item() if hasattr(v, "item") else v) for k, v in dict(h).items()}
                for h in self.optimizer.hypers]


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


def check_exception(cls):
    run(cls, len(STEPS))
    print("no exception")
    return False


def main():
    cls = load(sys.argv[1] if len(sys.argv) > 1 else SPEC)
    try:
        deviates = {"exact": check_exact, "reload": check_reload, "unchanged": check_unchanged,
                    "exception": check_exception}[CHECK["kind"]](cls)
    except Exception:  # the implementation raised: that is the deviation
        traceback.print_exc()
        print("the implementation raised the exception above")
        deviates = True
    print("DEVIATES" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
