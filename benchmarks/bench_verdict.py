"""Time a verdict against the issue's budget: ``radam-verify check`` on one implementation
per algorithm of the family (by default torch.optim.RAdam, torch.optim.Adam, Adam with
amsgrad=True, and pytorch-ranger's Ranger under its given reading, where it is installed).

Each profile's wall-clock time (the whole command: start-up, identification, every
property) is reported as a fraction of its budget (quick: 30 s, ci: 120 s on a 2-core
machine); a fraction above 1 misses the budget. ``--json`` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time

BUDGETS = {"quick": 30.0, "ci": 120.0}


#: (implementation, constructor keywords, convention): one per algorithm; "auto" identifies it
CASES: tuple[tuple[str, dict[str, object], str], ...] = (
    ("torch.optim:RAdam", {}, "auto"),
    ("torch.optim:Adam", {}, "auto"),
    ("torch.optim:Adam", {"amsgrad": True}, "auto"),
    ("torch_optimizer:Lamb", {}, "auto"),  # LAMB: a per-tensor trust ratio
    ("pytorch_ranger:Ranger", {}, "ranger"),  # Lookahead over RAdam: a given reading
)


def measure(spec: str, kwargs: dict[str, object], convention: str,
            profile: str) -> dict[str, object]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", spec, "--profile",
                             profile, "--kwargs", json.dumps(kwargs), "--convention", convention],
                            capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    verdict = next((line.split(": ", 1)[1] for line in result.stdout.splitlines()
                    if line.startswith("verdict: ")), "?")
    return {"spec": spec, "kwargs": kwargs, "convention": convention, "profile": profile,
            "seconds": round(elapsed, 1),
            "fraction_of_budget": round(elapsed / BUDGETS[profile], 2), "verdict": verdict,
            "exit": result.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", action="append",
                        help="MODULE:ATTR, identified (repeatable; default: one implementation "
                        "per algorithm, see CASES)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cases = ([(spec, {}, "auto") for spec in args.spec] if args.spec else
             [c for c in CASES if importlib.util.find_spec(c[0].split(":")[0]) is not None])
    rows = [measure(spec, kwargs, convention, profile)
            for spec, kwargs, convention in cases for profile in BUDGETS]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            extra = f" {json.dumps(row['kwargs'])}" if row["kwargs"] else ""
            print(f"{row['spec']}{extra} ({row['convention']}) profile {row['profile']}: "
                  f"{row['seconds']} s = {row['fraction_of_budget']} of the budget; verdict "
                  f"{row['verdict']}")
    return 0 if all(float(str(r["fraction_of_budget"])) <= 1 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
