"""Stand-alone reproduction scripts for the failures of a verdict (``DIR/repro/<property>.py``).

For each failed property, the shrunk counterexample (the failure's ``case``) is run once
more through the adapter, so that the script embeds what radam-verify computed for exactly
those inputs: the exact values of the deviating tensor at the deviating step (mpmath) and
the error model's bound for each element. The adapter then writes the framework's part of
the script (:meth:`~radam_verify.adapters.Adapter.script_driver`) and
:mod:`radam_verify.adapters.script` the rest. A verdict written before failures carried a
``case`` is read from its ``reproduction`` snippet.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from radam_verify.adapters import Adapter, ParamState
from radam_verify.adapters.script import Expected, ScriptCase, render
from radam_verify.conventions import Convention, parse_convention
from radam_verify.judge import Worst, listed
from radam_verify.layout import RAW, Layout
from radam_verify.precision import DEFAULT_PRECISION_BITS, real
from radam_verify.suite import checks
from radam_verify.suite.scenario import Outcome, Scenario, scenario_from_json
from radam_verify.suite.target import sentence

FOLDER = "repro"


def case_of(failure: dict[str, Any]) -> dict[str, Any] | None:
    """The counterexample as data: the failure's ``case``, or parsed from its snippet."""
    if isinstance(failure.get("case"), dict):
        return dict(failure["case"])
    snippet = str(failure.get("reproduction", ""))
    start = snippet.find("replay(")
    if start < 0:
        return None
    try:
        found = ast.literal_eval(snippet[start + len("replay("):snippet.rstrip().rindex(")")])
    except (ValueError, SyntaxError):
        return None
    return found if isinstance(found, dict) else None


def _steps_until(scenario: Scenario, group: int, tensor: int, stepped: int,
                 layout: Layout = RAW, group_step: int | None = None) -> int:
    """How many of the scenario's steps run until the tensor's t has advanced ``stepped``
    times (on its own steps, or on its group's where the layout shares one count), or
    until its group has taken ``group_step`` steps (a sync without a gradient)."""
    begin = {len(scenario.groups) + i: k for i, (k, _) in enumerate(scenario.added)}.get(group, 0)
    if group_step is not None:
        return min(begin + group_step, len(scenario.steps))
    count = 0
    for k in range(begin, len(scenario.steps)):
        row = scenario.steps[k][group]
        advances = {"group": True, "call": any(g is not None for g in row)}.get(
            layout.counter, row[tensor] is not None)
        if advances:
            count += 1
            if count == stepped:
                return k + 1
    return len(scenario.steps)


def expected(adapter: Adapter, convention: Convention, scenario: Scenario,
             check: dict[str, Any], outcome: Outcome | None = None) -> tuple[Expected, str] | None:
    """The exact values and bounds of the worst tensor, by running the case once more (or
    from ``outcome``, the case's judgement), and the deviation in one sentence (None: the
    deviation did not show again)."""
    local = bool(check.get("local", False))
    if outcome is None:
        outcome = checks.exact(adapter, scenario, convention, local=local)
    worst = outcome.worst()
    if worst is None or outcome.conforms or worst.judgement.worst is None:
        return None
    w = worst.judgement.worst
    read_back = local and len(scenario.steps) > 1
    start_t = 0
    if scenario.start is not None and worst.group < len(scenario.groups):
        start_t = int(scenario.start[worst.group][worst.param].t or 0)
    steps = (len(scenario.steps) if read_back
             else _steps_until(scenario, worst.group, worst.param, w.t - start_t,
                               adapter.state_layout, w.group_step))
    how = (f"the exact values come from radam-verify's reference, which evaluates the "
           f"{convention.spec} convention's step in mpmath at {DEFAULT_PRECISION_BITS} bits on "
           f"the inputs as given (every float converts to a binary rational exactly; the "
           f"result is exact to far beyond the 20 digits kept here). BOUND is radam-verify's "
           f"error model (a running error analysis, derivations/error-model.md) for "
           f"{adapter.fmt.name} arithmetic with the scalar schedule evaluated in binary64, "
           f"accumulated over the steps taken: the largest distance from EXACT a correct "
           f"implementation may have.")
    if w.reference == "fast":
        how += (f" The tensor has {len(w.exact_all)} elements, so EXACT is the certified fast "
                "reference (binary64 with the exact coefficients rounded once, or "
                "double-double for a binary64 implementation) and BOUND adds "
                "its own error bound to the implementation's (radam_verify/fast_judge.py, "
                "derivations/error-model.md section 6); the failing element's value in the "
                "message is exact (mpmath).")
    if adapter.state_layout.debiased and w.quantity != "theta":
        how += (" The implementation keeps the bias-corrected moments (its state layout), so "
                f"EXACT is {w.quantity}_hat = {w.quantity} / (1 - beta^t), from the exact "
                f"{w.quantity} at the same precision.")
    if read_back:
        how += (" The exact step starts from the state this implementation held after the "
                "step before (read back, as the property judges it), so pointed at another "
                "implementation the script compares against this one's state.")
    return (Expected(steps, w.t, worst.group, worst.param, w.quantity, w.index,
                     _exact_strings(w),
                     tuple(np.asarray(w.bound_all, dtype=np.float64).tolist()), how),
            sentence(adapter, scenario, worst))


def _exact_strings(w: Worst) -> tuple[str, ...]:
    """The exact values (or the fast centre) of the worst tensor, 20 significant digits; a
    double-double centre's high and low parts summed exactly."""
    if w.exact_low is None:
        return tuple(real.nstr(x, 20) for x in listed(w.exact_all))
    return tuple(real.nstr(real.mpf(hi) + real.mpf(lo), 20)
                 for hi, lo in zip(listed(w.exact_all), w.exact_low.tolist(), strict=True))


def as_held(adapter: Adapter, scenario: Scenario) -> Scenario:
    """The scenario with its injected state as the implementation holds it once injected
    (read back: a moment kept in bfloat16 is rounded to it), so that the script's state is
    exact in any implementation's dtype and the exact step is computed from what was held."""
    if scenario.start is None:
        return scenario
    instance = adapter.open(scenario.groups, scenario.path)
    instance.inject(scenario.start)
    held = instance.read()
    start = tuple(tuple(ParamState(h.theta, s.m if h.m is None else h.m,
                                   s.v if h.v is None else h.v, s.t)
                        for h, s in zip(held_group, given_group, strict=True))
                  for held_group, given_group in zip(held, scenario.start, strict=True))
    return replace(scenario, start=start)


def script_name(prop: dict[str, Any]) -> str:
    """``test_every_code_path_conforms[foreach]`` -> ``every_code_path_conforms-foreach.py``."""
    name = str(prop["id"]).split("::")[-1].removeprefix("test_")
    return "".join(c if c.isalnum() or c == "_" else "-" for c in name).strip("-") + ".py"


#: failures written without a script: replaying them hangs or kills the process that replays
UNSCRIPTED = ("timeout", "crash")
#: the checks a stand-alone script can make
SCRIPTED_CHECKS = ("exact", "reload", "transplant", "unchanged", "closure", "placed", "frozen")


def script_for(adapter: Adapter, prop: dict[str, Any]) -> str | None:
    """The stand-alone script for a failed property of a verdict on ``adapter`` (None where
    the adapter writes none, or the failure carries no case)."""
    failure = prop.get("failure") or {}
    case = case_of(failure)
    if case is None or failure.get("quantity") in UNSCRIPTED or \
            (case.get("check") or {}).get("kind") not in SCRIPTED_CHECKS:
        return None
    scenario = as_held(adapter, scenario_from_json(case["scenario"]))
    driver = adapter.script_driver(scenario)
    if driver is None:
        return None
    check = dict(case.get("check") or {"kind": "exact"})
    if check["kind"] == "frozen":  # a subnormal theta may become zero where judged flushing
        check.update(flushes=adapter.fmt.flushes, smallest_normal=adapter.fmt.smallest_normal)
    found: Expected | None = None
    summary = str(failure.get("sentence") or failure.get("message", "")).splitlines()[0]
    raised = str(failure.get("exception", "")) if failure.get("quantity") == "exception" else ""
    if raised and check["kind"] in ("exact", "placed"):  # nothing to compare: the steps raise
        check = {"kind": "exception"}
    elif check["kind"] == "exact":
        replayed = expected(adapter, parse_convention(case["convention"]), scenario, check)
        if replayed is None:
            return None
        found, summary = replayed  # the sentence of exactly what the script compares
    elif check["kind"] == "placed":  # a canary changed, or the views' values deviate
        convention = parse_convention(case["convention"])
        judged = checks.placed(adapter, scenario, convention)
        if isinstance(judged, Outcome):
            replayed = expected(adapter, convention, scenario, check, judged)
            if replayed is None:
                return None
            found, summary = replayed
    steps = tuple(tuple(tuple(None if g is None else [float(x) for x in np.ravel(g)] for g in group)
                        for group in step) for step in scenario.steps)
    return render(ScriptCase(
        summary.rstrip("."), str(prop.get("title") or prop["property"]), adapter.spec,
        adapter.provenance, adapter.dtype, adapter.device, str(case["convention"]), check,
        steps, found, raised), driver)


def write_scripts(adapter: Adapter, verdict: dict[str, Any], folder: Path) -> list[Path]:
    """Write a script per failed property into ``folder`` and record its path (relative to
    the folder's parent) as ``failure["script"]``. Returns the paths written."""
    written = []
    for prop in verdict["properties"]:
        if prop.get("outcome") != "failed" or not prop.get("failure"):
            continue
        try:
            text = script_for(adapter, prop)
        except Exception as error:  # a script is an extra: the verdict stands without it
            prop["failure"]["script_error"] = f"{type(error).__name__}: {error}".splitlines()[0]
            continue
        if text is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / script_name(prop)
        path.write_text(text)
        path.chmod(0o755)
        prop["failure"]["script"] = f"{folder.name}/{path.name}"
        prop["failure"].pop("script_error", None)  # an earlier attempt's, now written
        written.append(path)
    for stale in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        if stale not in written:  # a property that failed in an earlier verdict here
            stale.unlink()
    return written
