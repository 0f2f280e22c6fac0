#!/usr/bin/env python3
"""optax:radam, the eager path, float64 on cpu: m[54] of group 0, tensor 0 after step 1 is 0.0
where the exact value is 3.9031186021458468323e-323 (error 8 ulps against a bound of 3 ulps
of the operand scale) with the default hyperparameters (1 step, 1 group, 2 tensors of shapes
(63,) and ()).

Found by the property "Tensors of every size and shape follow the exact step: eager"
(convention optax) for optax:radam (optax 0.2.8, jax 0.10.2), float64 on cpu. This script
needs only JAX, optax and numpy: not radam-verify and not Hypothesis. It runs the
counterexample's first 1 step(s) and compares m of group 0, tensor 0 (step count 1) with
EXACT, element by element, within BOUND.

EXACT and BOUND: the exact values come from radam-verify's reference, which evaluates the
optax convention's step in mpmath at 128 bits on the inputs as given (every float converts
to a binary rational exactly; the result is exact to far beyond the 20 digits kept here).
BOUND is radam-verify's error model (a running error analysis, derivations/error-model.md)
for float64 arithmetic with the scalar schedule evaluated in binary64, accumulated over the
steps taken: the largest distance from EXACT a correct implementation may have.

Run: python THIS_FILE [MODULE:ATTR] (default optax:radam; any implementation with the same
API, e.g. a fixed version). Exit status: 1 while the deviation is there, 0 once it is gone.
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
import importlib
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import optax  # noqa: E402

SPEC = 'optax:radam'
# the dtype of the parameters
DTYPE = 'float64'
# jit: update compiled with jax.jit; eager
PATH = 'eager'
# optax.lookahead's inner factory, MODULE:ATTR (None: no wrapper)
INNER = None
# keywords beside each group's
KWARGS = {}
# optax.lookahead's own keywords
WRAPPER = {}
# built with optax.inject_hyperparams: the hyperparameters in the state
INJECT = False
# one transformation per group: its keywords and initial values
GROUPS = [
    {'arguments': {'learning_rate': 0.001, 'b1': 0.9, 'b2': 0.999, 'eps': 1e-08}, 'params': [[1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0], [1.0]]},
]
# optax adds no groups later
ADDED = []
# the state injected into count/mu/nu before the first step (None: init)
START = None
# [k, each group's hyperparameters]: set in the live optimizer before step k (0-based), as a schedule sets them
RETUNED = []
# the gradients: STEPS[step][group][tensor] (None: no gradient that step)
STEPS = [
    [([1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 3.9e-322, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0], [1.0])],
]
# the exact values (decimal, 20 significant digits)
EXACT = [
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '3.9031186021458468323e-323',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
    '-0.099999999999999977796',
]
# the largest |observed - exact| a correct implementation may have
BOUND = [
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    1.5e-323,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
    8.88178420527306e-17,
]
# what is compared
CHECK = {'kind': 'exact', 'steps': 1, 't': 1, 'group': 0, 'tensor': 0, 'quantity': 'm', 'index': 54}
PRINTED = 24


jax.config.update("jax_enable_x64", DTYPE == "float64")


def array(values):
    return jax.numpy.asarray(np.asarray(values, dtype=np.float64).astype(DTYPE))


def flat(values):
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


def moments(state):
    """The node of the state with count, mu and nu."""
    if all(hasattr(state, name) for name in ("count", "mu", "nu")):
        return state
    for item in state if isinstance(state, tuple) else ():
        found = moments(item)
        if found is not None:
            return found
    return None


def replaced(state, new):
    if all(hasattr(state, name) for name in ("count", "mu", "nu")):
        return new
    if isinstance(state, tuple) and not hasattr(state, "_fields"):
        return tuple(replaced(item, new) for item in state)
    if hasattr(state, "inner_state"):  # inject_hyperparams' state
        return state._replace(inner_state=replaced(state.inner_state, new))
    if hasattr(state, "fast_state"):  # lookahead's LookaheadState
        return state._replace(fast_state=replaced(state.fast_state, new))
    return state


def build(cls, arguments):
    """The transformation of one group (optax.lookahead: around its inner one)."""
    if INJECT:  # the hyperparameters in the state; keywords that are not numbers static
        static = [k for k, v in KWARGS.items()
                  if isinstance(v, bool) or not isinstance(v, (int, float))]
        return optax.inject_hyperparams(cls, static_args=static)(**arguments, **KWARGS)
    if INNER is None:
        return cls(**arguments, **KWARGS)
    module, _, name = INNER.partition(":")
    inner = getattr(importlib.import_module(module), name)
    return cls(inner(**arguments, **KWARGS), **WRAPPER)


def fast(params):
    """theta: the parameters, or lookahead's fast weights."""
    return list(params.fast) if INNER is not None else params


class Run:
    """One transformation per group over the list of the group's parameters."""

    def __init__(self, cls, groups=None):
        self.cls, self.groups, self.sizes = cls, [], []
        for group in GROUPS if groups is None else groups:
            tx = build(cls, group["arguments"])
            params = [array(p) for p in group["params"]]
            if INNER is not None:  # fast and slow weights, started equal
                params = optax.LookaheadParams.init_synced(params)
            update = jax.jit(tx.update) if PATH == "jit" else tx.update
            self.groups.append({"entry": group, "tx": tx, "params": params,
                                "state": tx.init(params), "update": update, "grads": []})
            self.sizes.append([len(p) for p in group["params"]])

    def add_group(self, group):
        raise RuntimeError("optax has no groups added later")

    def retune(self, hypers):
        """Set the first groups' hyperparameters in state.hyperparams, as a schedule does."""
        for group, entry in zip(self.groups, hypers):
            held = group["state"].hyperparams
            new = {k: jax.numpy.asarray(v, dtype=held[k].dtype) for k, v in entry.items()}
            group["state"] = group["state"]._replace(hyperparams={**held, **new})

    def inject(self, start):
        for group, states in zip(self.groups, start):
            held = moments(group["state"])
            new = held._replace(count=jax.numpy.asarray(states[0]["t"], dtype=held.count.dtype),
                                mu=[array(s["m"]) for s in states],
                                nu=[array(s["v"]) for s in states])
            if hasattr(new, "nu_max"):  # amsgrad's running maximum: v where none is given
                new = new._replace(nu_max=[array(s["v"] if s.get("v_max") is None
                                                 else s["v_max"]) for s in states])
            group["state"] = replaced(group["state"], new)
            group["params"] = [array(s["theta"]) for s in states]
            if INNER is not None:  # slow weights from theta_0: a sync after every k-th step
                counter = group["state"].steps_since_sync
                group["state"] = group["state"]._replace(steps_since_sync=jax.numpy.asarray(
                    states[0]["t"] % WRAPPER["sync_period"], dtype=counter.dtype))
                group["params"] = optax.LookaheadParams(
                    fast=group["params"], slow=[array(s["theta"] if s.get("slow") is None
                                                      else s["slow"]) for s in states])

    def step(self, grads):
        for group, given in zip(self.groups, grads):
            arrays = [array(g) for g in given]
            group["grads"] = arrays
            updates, group["state"] = group["update"](arrays, group["state"], group["params"])
            group["params"] = optax.apply_updates(group["params"], updates)

    def read(self, g, p, quantity):
        group = self.groups[g]
        if quantity == "theta":
            return flat(fast(group["params"])[p])
        held = moments(group["state"])
        if quantity == "slow":  # optax.lookahead's slow weights
            return None if INNER is None else flat(group["params"].slow[p])
        if quantity == "v_max":  # amsgrad's running maximum of nu_hat
            found = getattr(held, "nu_max", None)
            return None if found is None else flat(found[p])
        return None if held is None else flat((held.mu if quantity == "m" else held.nu)[p])

    def copy(self, cls):
        return Run(cls, [{**group["entry"],
                          "params": [flat(p).tolist() for p in fast(group["params"])]}
                         for group in self.groups])

    def save(self):
        """The state, and lookahead's slow weights (parameters in optax) with it."""
        return pickle.dumps([(jax.device_get(group["state"]), None if INNER is None
                              else jax.device_get(group["params"].slow))
                             for group in self.groups])

    def load(self, saved):
        for group, (state, slow) in zip(self.groups, pickle.loads(saved)):
            group["state"] = jax.tree_util.tree_map(jax.numpy.asarray, state)
            if slow is not None:
                group["params"] = group["params"]._replace(
                    slow=[jax.numpy.asarray(x) for x in slow])

    def rounded(self, given):
        return flat(array(given))

    def grads(self):
        return [[flat(g) for g in group["grads"]] for group in self.groups]

    def hypers(self):
        return []


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
