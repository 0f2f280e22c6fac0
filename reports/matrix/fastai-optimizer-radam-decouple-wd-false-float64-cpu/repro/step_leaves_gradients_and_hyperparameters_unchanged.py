#!/usr/bin/env python3
"""fastai.optimizer:RAdam, the default path, float64 on cpu: step leaves its inputs alone: step
1 changed the gradient of group 0, tensor 0: [-1.] -> [-2.] with weight_decay = 1.0 (2
steps, 1 group, 1 tensor of shape ()).

Found by the property "Step leaves gradients and hyperparameters unchanged" (convention
paper,threshold=5,eps=hat) for fastai.optimizer:RAdam (fastai 2.8.12, torch 2.13.0+cpu),
float64 on cpu. This script needs only torch, fastai and numpy: not radam-verify and not
Hypothesis. It checks after every step that the gradients and the groups' hyperparameters
are what they were before the step.

Run: python THIS_FILE [MODULE:ATTR] (default fastai.optimizer:RAdam; any implementation with
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
# fastai's RAdam keeps no AMSGrad maximum
MAX_KEY = None
# nor Lookahead's slow weights
SLOW_KEY = None
V_KEY = 'sqr_avg'
STEP_KEY = 'step'
# the parameter groups: fastai's hyperparameter names and the initial values
GROUPS = [{'lr': 0.001, 'mom': 0.9, 'sqr_mom': 0.999, 'eps': 1e-08, 'wd': 1.0, 'params': [[-1.0]]}]
# fastai optimizers take no groups after construction
ADDED = []
# the state injected before the first step (None: a fresh optimizer)
START = None
# [k, each group's hyperparameters]: set in the live optimizer before step k (0-based), as a schedule sets them
RETUNED = []
# the gradients: STEPS[step][group][tensor] (None: no gradient that step)
STEPS = [[([-1.0],)], [([-1.0],)]]
# what is compared
CHECK = {'kind': 'unchanged'}
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

    def retune(self, hypers):
        """Set the first groups' hyperparameters with set_hyper, as fastai's schedulers do."""
        for key in HYPER_KEYS:
            held = [h[key] for h in self.optimizer.hypers]
            given = [entry[key] for entry in hypers]
            self.optimizer.set_hyper(key, given + held[len(given):])

    def step(self, grads):
        for tensors, group in zip(self.tensors, grads):
            for p, g in zip(tensors, group):
                p.grad = None if g is None else tensor(g)
        self.optimizer.step()

    def held(self, param):
        return self.optimizer.state.get(param, {})


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
        disturb(self.optimizer.hypers)

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
