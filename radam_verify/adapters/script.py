"""Stand-alone reproduction scripts: the part every adapter shares.

A failing property's counterexample becomes a Python script that runs the implementation
through its own API only (its framework and numpy; no radam-verify, no Hypothesis), prints
the exact values beside the observed ones and exits 1 while the deviation is there. An
adapter supplies a :class:`Driver`: the imports and the data in its framework's own names,
and a small class ``Run`` (construct, inject, add a group, step, read, save, load) written
against that framework. This module writes the rest: the docstring that says what was
found and how the expected values were computed, the scenario's gradients, the check, and
``main``, the same for every framework.

``Run`` as every driver defines it::

    Run(cls)                    # construct over GROUPS (hyperparameters in the library's names)
    run.inject(START)           # START[group][tensor] = {"theta", "m", "v", "t"[, "v_max"]}
    run.add_group(group)        # one entry like those of GROUPS
    run.step(grads)             # grads[group][tensor]: list of floats or None
    run.read(g, p, quantity)    # "theta", "m", "v", "v_max" (AMSGrad's running maximum) or
                                # "slow" (Lookahead's slow weights) as a float64 numpy
                                # array (None: unreadable)
    run.copy(cls)               # a new Run over the same groups, from this run's current theta
    run.save() / run.load(s)    # the library's own state saving
    run.load_live(other)        # load other's state dict object itself; returns what changes
                                # that object in place
    run.change_hypers()         # change every group's hyperparameters, as a scheduler does
    run.grads(), run.hypers()   # the gradients and the groups' hyperparameters as held now
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: elements of the compared tensor printed in full (the others are summarised)
PRINTED = 24


@dataclass(frozen=True)
class Expected:
    """What a correct implementation gives for the compared tensor, and how it was computed."""

    steps: int  # how many of the scenario's steps to run before comparing
    t: int  # the tensor's step count after them
    group: int
    tensor: int
    quantity: str  # "theta", "m", "v", "v_max" or "slow"
    index: int  # the worst element
    exact: tuple[str, ...]  # exact values, decimal strings
    bound: tuple[float, ...]  # absolute bounds on |observed - exact|
    how: str  # how the exact values and the bounds were computed


@dataclass(frozen=True)
class Driver:
    """An adapter's part of a script: what it needs, its imports, data and ``Run`` class."""

    needs: str  # e.g. "torch and numpy"
    imports: str  # import lines of third-party modules (the standard library's are given)
    data: str  # assignments: GROUPS, START, ADDED, KWARGS and the framework's settings
    run_class: str  # the ``Run`` class
    #: [before step k, each group's hyperparameters in the framework's names]: what a
    #: schedule sets in the live optimizer (``Run.retune``)
    retuned: tuple[tuple[int, tuple[Mapping[str, object], ...]], ...] = ()


@dataclass(frozen=True)
class ScriptCase:
    """A counterexample as a script sees it."""

    sentence: str  # the finding in one sentence
    title: str  # the property that found it
    spec: str
    framework: str  # e.g. "torch 2.13.0"
    dtype: str
    device: str
    convention: str
    #: {"kind": "exact" | "reload" | "unchanged" | "closure" | "placed" | "exception", ...}
    check: Mapping[str, Any]
    steps: tuple[tuple[tuple[list[float] | None, ...], ...], ...]  # [step][group][tensor]
    expected: Expected | None = None
    raised: str = ""  # what the implementation raised, where that is the finding
    generator: str = "radam-verify"


def literal(name: str, value: object, comment: str = "") -> str:
    text = repr(value)
    if len(text) > 96 and isinstance(value, list | tuple):
        inner = ",\n".join("    " + repr(item) for item in value)
        text = "[\n" + inner + ",\n]" if inner else "[]"
    return (f"# {comment}\n" if comment else "") + f"{name} = {text}\n"


def _docstring(case: ScriptCase, driver: Driver) -> str:
    kind = case.check["kind"]
    if kind == "exact" and case.expected is not None:
        e = case.expected
        what = (f"It runs the counterexample's first {e.steps} step(s) and compares {e.quantity} "
                f"of group {e.group}, tensor {e.tensor} (step count {e.t}) with EXACT, element "
                f"by element, within BOUND.\n\nEXACT and BOUND: {e.how}")
    elif kind == "reload":
        what = (f"It saves the optimizer's state after step {case.check['save_at']}, loads it "
                "into a new optimizer over the same parameter values, and compares every later "
                "step bit for bit with the uninterrupted run.")
    elif kind == "transplant":
        what = (f"After step {case.check['save_at']} a new optimizer loads the state dict "
                "object of the first one in process (load_state_dict(source.state_dict()), no "
                "serialization), and a control loads a serialized copy of it. Then the state "
                "dict object is changed in place (every tensor + 1, every hyperparameter "
                "halved), the first optimizer's hyperparameters are changed and it takes a "
                "step. The script checks that a step of the loaded optimizer leaves the first "
                "one alone, and that the loaded optimizer continues bit for bit as the control.")
    elif kind == "unchanged":
        what = ("It checks after every step that the gradients and the groups' "
                "hyperparameters are what they were before the step.")
    elif kind == "frozen":
        what = ("Every group's learning rate is 0: it checks after every step that each "
                "parameter is bit for bit what it was before the first step"
                + (" (a subnormal parameter may become zero: the platform flushes subnormals "
                   "and is judged as such)." if case.check.get("flushes") else "."))
    elif kind == "placed":
        what = ("Every parameter is a strided view into a larger storage whose other elements "
                "hold canaries (PLACEMENTS), and every gradient has the strides PLACEMENTS "
                "gives it. It checks after every step that each canary is unchanged")
        if case.expected is not None:
            e = case.expected
            what += (f", then compares {e.quantity} of group {e.group}, tensor {e.tensor} after "
                     f"the first {e.steps} step(s) (step count {e.t}) with EXACT, element by "
                     f"element, within BOUND.\n\nEXACT and BOUND: {e.how}")
        else:
            what += "."
    elif kind == "closure":
        what = ("It takes every step through step(closure), the closure setting the gradients "
                "and returning a loss, and checks that each step calls the closure once, with "
                "gradients enabled, returns its loss, and leaves theta, m and v bit for bit as "
                "step() with the same gradients does.")
    else:
        what = "It runs the counterexample's steps; the implementation raised on them."
    if kind != "exception" and case.raised:
        what += f" There the implementation raised: {case.raised}."
    body = (f"{case.sentence}.\n\nFound by the property \"{case.title}\" (convention "
            f"{case.convention}) for {case.spec} ({case.framework}), {case.dtype} on "
            f"{case.device}. This script needs only {driver.needs}: not {case.generator} and "
            f"not Hypothesis. {what}\n\nRun: python THIS_FILE [MODULE:ATTR] (default "
            f"{case.spec}; any implementation with the same API, e.g. a fixed version). Exit "
            "status: 1 while the deviation is there, 0 once it is gone.")
    wrapped = "\n\n".join(textwrap.fill(part, 92) for part in body.split("\n\n"))
    return f'#!/usr/bin/env python3\n"""{wrapped}\n"""\n'


_MAIN = '''

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
'''


def render(case: ScriptCase, driver: Driver) -> str:
    """The whole script for ``case`` with ``driver``'s framework code."""
    check: dict[str, Any] = dict(case.check)
    parts = [_docstring(case, driver), "import contextlib  # noqa: F401\nimport importlib\n"
             "import io  # noqa: F401\nimport math\n"
             "import pickle  # noqa: F401\nimport sys\nimport traceback\n"
             "from decimal import Decimal, getcontext\n\nimport numpy as np\n",
             driver.imports, "\n", literal("SPEC", case.spec),
             driver.data]
    parts.append(literal("RETUNED", [[k, [dict(h) for h in hypers]] for k, hypers in driver.retuned],
                         "[k, each group's hyperparameters]: set in the live optimizer before "
                         "step k (0-based), as a schedule sets them"))
    parts.append(literal("STEPS", [list(step) for step in case.steps],
                          "the gradients: STEPS[step][group][tensor] (None: no gradient that step)"))
    e = case.expected
    if e is not None:
        check.update({"steps": e.steps, "t": e.t, "group": e.group, "tensor": e.tensor,
                      "quantity": e.quantity, "index": e.index})
        parts.append(literal("EXACT", list(e.exact),
                              "the exact values (decimal, 20 significant digits)"))
        parts.append(literal("BOUND", list(e.bound),
                              "the largest |observed - exact| a correct implementation may have"))
    parts.append(literal("CHECK", check, "what is compared"))
    parts.append(f"PRINTED = {PRINTED}\n\n\n")
    parts.append(driver.run_class.strip("\n") + "\n")
    parts.append(_MAIN)
    return "".join(parts)
