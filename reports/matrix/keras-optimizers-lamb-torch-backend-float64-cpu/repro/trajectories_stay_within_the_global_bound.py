#!/usr/bin/env python3
"""keras.optimizers:Lamb, the default path, float64 on cpu: v[0] of group 0, tensor 0 after
step 1 is 0.0010000000474974513 where the exact value is 0.0010000000000000008882 (error
2.19e+08 ulps against a bound of 4.1 ulps of the operand scale) with the default
hyperparameters (2 steps, 1 group, 1 tensor of shape (6,)).

Found by the property "Trajectories stay within the global bound" (convention keras-
lamb,scalars=float32-lr) for keras.optimizers:Lamb (keras 3.15.1, keras 3.15.1, torch
2.13.0+cpu), float64 on cpu. This script needs only Keras 3 on its torch backend and numpy:
not radam-verify and not Hypothesis. It runs the counterexample's first 1 step(s) and
compares v of group 0, tensor 0 (step count 1) with EXACT, element by element, within BOUND.

EXACT and BOUND: the exact values come from radam-verify's reference, which evaluates the
keras-lamb,scalars=float32-lr convention's step in mpmath at 128 bits on the inputs as given
(every float converts to a binary rational exactly; the result is exact to far beyond the 20
digits kept here). BOUND is radam-verify's error model (a running error analysis,
derivations/error-model.md) for float64 arithmetic with the scalar schedule evaluated in
binary64, accumulated over the steps taken: the largest distance from EXACT a correct
implementation may have.

Run: python THIS_FILE [MODULE:ATTR] (default keras.optimizers:Lamb; any implementation with
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
import os

os.environ.setdefault("KERAS_BACKEND", 'torch')

import keras  # noqa: E402

SPEC = 'keras.optimizers:Lamb'
# the dtype of the parameters
DTYPE = 'float64'
# keywords beside each group's
KWARGS = {}
# one optimizer per group: its keywords and initial values
GROUPS = [
    {'arguments': {'learning_rate': 0.001, 'beta_1': 0.9, 'beta_2': 0.999, 'epsilon': 1e-08, 'weight_decay': 0.0}, 'params': [[-1.0, -1.0, -1.0, -1.0, -1.0, -1.0]]},
]
# a Keras optimizer takes no groups later
ADDED = []
# the state injected into the slots m, v and iterations (None: fresh)
START = None
# [k, each group's hyperparameters]: set in the live optimizer before step k (0-based), as a schedule sets them
RETUNED = []
# the gradients: STEPS[step][group][tensor] (None: no gradient that step)
STEPS = [[([-1.0, -1.0, -1.0, -1.0, -1.0, -1.0],)], [([-1.0, -1.0, -1.0, -1.0, -1.0, -1.0],)]]
# the exact values (decimal, 20 significant digits)
EXACT = [
    '0.0010000000000000008882',
    '0.0010000000000000008882',
    '0.0010000000000000008882',
    '0.0010000000000000008882',
    '0.0010000000000000008882',
    '0.0010000000000000008882',
]
# the largest |observed - exact| a correct implementation may have
BOUND = [
    8.88178420527307e-19,
    8.88178420527307e-19,
    8.88178420527307e-19,
    8.88178420527307e-19,
    8.88178420527307e-19,
    8.88178420527307e-19,
]
# what is compared
CHECK = {'kind': 'exact', 'local': False, 'steps': 1, 't': 1, 'group': 0, 'tensor': 0, 'quantity': 'v', 'index': 0}
PRINTED = 24


#: the dtypes numpy has no arithmetic of its own for: their values travel as float32, exactly
NARROW = ("bfloat16", "float16")


def flat(values):
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


def carried(values):
    return np.asarray(values, dtype=np.float64).astype("float32" if DTYPE in NARROW else DTYPE)


def constant(values):
    return keras.ops.convert_to_tensor(carried(values), dtype=DTYPE)


def host(value):
    """A variable's or tensor's values as float64 (a narrow torch tensor widened first)."""
    if isinstance(value, keras.Variable):
        value = value.value
    if hasattr(value, "detach"):  # a torch tensor
        tensor = value.detach().cpu()
        return flat((tensor.float() if tensor.element_size() < 4 else tensor).numpy())
    return flat(keras.ops.convert_to_numpy(value))


class Run:
    """One Keras 3 optimizer per group over the group's keras.Variable parameters, built as
    Model.compile builds it."""

    def __init__(self, cls, groups=None):
        self.cls, self.entries, self.groups = cls, GROUPS if groups is None else groups, []
        for k, group in enumerate(self.entries):
            optimizer = cls(**group["arguments"], **KWARGS)
            variables = [keras.Variable(carried(p), dtype=DTYPE, name=f"g{k}_p{i}")
                         for i, p in enumerate(group["params"])]
            optimizer.build(variables)
            self.groups.append({"optimizer": optimizer, "variables": variables, "grads": []})
        self.sizes = [[len(p) for p in group["params"]] for group in self.entries]

    def add_group(self, group):
        raise RuntimeError("a Keras optimizer has no parameter groups")

    def slot(self, g, p, quantity):
        group = self.groups[g]
        prefix = group["variables"][p].path.replace("/", "_") + "_"
        held = {str(v.name)[len(prefix):]: v for v in group["optimizer"].variables
                if str(v.name).startswith(prefix)}
        names = {"m": ("m", "momentum"), "v": ("v", "velocity")}[quantity]
        return next((held[name] for name in names if name in held), None)

    def inject(self, start):
        for g, (group, states) in enumerate(zip(self.groups, start)):
            group["optimizer"].iterations.assign(int(states[0]["t"]))
            for p, (variable, s) in enumerate(zip(group["variables"], states)):
                variable.assign(carried(s["theta"]))
                self.slot(g, p, "m").assign(carried(s["m"]))
                self.slot(g, p, "v").assign(carried(s["v"]))

    def step(self, grads):
        for group, given in zip(self.groups, grads):
            group["grads"] = [None if g is None else constant(g) for g in given]
            pairs = [(g, v) for g, v in zip(group["grads"], group["variables"]) if g is not None]
            if pairs:  # Keras refuses a call without gradients
                group["optimizer"].apply_gradients(pairs)

    def read(self, g, p, quantity):
        if quantity == "theta":
            return host(self.groups[g]["variables"][p])
        if quantity in ("v_max", "slow"):  # not read through Keras' slots
            return None
        held = self.slot(g, p, quantity)
        return np.zeros(self.sizes[g][p]) if held is None else host(held)

    def copy(self, cls):
        return Run(cls, [{**entry, "params": [host(v).tolist() for v in group["variables"]]}
                         for entry, group in zip(self.entries, self.groups)])

    def save(self):
        return [{str(i): carried(host(v)) for i, v in enumerate(group["optimizer"].variables)}
                for group in self.groups]

    def load(self, saved):
        for group, store in zip(self.groups, saved):
            group["optimizer"].load_own_variables(store)

    def rounded(self, given):
        return host(constant(given))

    def grads(self):
        return [[None if g is None else host(g) for g in group["grads"]]
                for group in self.groups]

    def hypers(self):
        return [{k: v for k, v in group["optimizer"].get_config().items() if k != "name"}
                for group in self.groups]

    def retune(self, hypers):
        """Set each group's hyperparameters on its live optimizer, as a training loop does."""
        for group, arguments in zip(self.groups, hypers):
            for name, value in arguments.items():
                setattr(group["optimizer"], name, value)


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
