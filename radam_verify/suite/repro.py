"""Replay a counterexample: the snippet a failing property prints calls :func:`replay`."""

from __future__ import annotations

from typing import Any

from radam_verify.adapters import load_adapter
from radam_verify.conventions import parse_convention
from radam_verify.suite import checks
from radam_verify.suite.scenario import Outcome, scenario_from_json


def replay(case: dict[str, Any], *, quiet: bool = False) -> Outcome:
    """Rerun ``case`` (implementation, kwargs, device, dtype, convention, check, scenario) and
    print each tensor's verdict with its worst element against the exact value. A platform
    that flushes subnormals is judged as such unless the case says ``"subnormals": "ieee"``,
    as the suite judges it; the schedule is judged as the case says (``"schedule"``, textbook
    by default)."""
    adapter = load_adapter(case["impl"], case.get("kwargs", {}), case.get("device", "cpu"),
                           case.get("dtype", "float32"))
    if case.get("subnormals") != "ieee" and adapter.platform_flushes() is not None:
        adapter.fmt = adapter.fmt.flushing()
    adapter.schedule = case.get("schedule", "textbook")
    convention = parse_convention(case["convention"])
    adapter.slow_from = convention.slow_from
    scenario = scenario_from_json(case["scenario"])
    check = dict(case.get("check") or {"kind": "exact"})
    kind = check["kind"]
    if kind in ("reload", "transplant", "unchanged", "closure", "frozen"):
        found = (checks.reload(adapter, scenario, int(check["save_at"])) if kind == "reload"
                 else checks.transplant(adapter, scenario, int(check["save_at"]))
                 if kind == "transplant"
                 else checks.unchanged(adapter, scenario) if kind == "unchanged"
                 else checks.frozen(adapter, scenario) if kind == "frozen"
                 else checks.closure(adapter, scenario))
        if not quiet:
            print(f"{adapter.describe()}, check {check['kind']}: {found or 'no difference'}")
        return Outcome(mismatch=None if found is None else str(found))
    if kind == "placed":
        placed = checks.placed(adapter, scenario, convention)
        if not isinstance(placed, Outcome):
            if not quiet:
                print(f"{adapter.describe()}, check placed: {placed}")
            return Outcome(mismatch=str(placed))
        outcome = placed
    else:
        outcome = checks.exact(adapter, scenario, convention,
                               local=bool(check.get("local", False)))
    if not quiet:
        print(f"{adapter.describe()} against the exact {convention.spec} trajectory:")
        if outcome.out_of_domain:
            print(f"  out of domain: {outcome.out_of_domain}")
        for verdict in outcome.verdicts:
            j = verdict.judgement
            state = "within bounds" if j.conforms else "DEVIATES"
            print(f"  group {verdict.group}, tensor {verdict.param}: {state} "
                  f"(worst error / bound = {j.worst_ratio:.3g})")
            if j.worst is not None and not j.conforms:
                print(f"    {j.worst.describe()}")
    return outcome
