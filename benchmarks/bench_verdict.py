"""Time a verdict against the issue's budget: ``radam-verify check`` on one implementation
per algorithm of the family (torch.optim.RAdam and torch.optim.Adam by default).

Each profile's wall-clock time (the whole command: start-up, identification, every
property) is reported as a fraction of its budget (quick: 30 s, ci: 120 s on a 2-core
machine); a fraction above 1 misses the budget. ``--json`` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

BUDGETS = {"quick": 30.0, "ci": 120.0}


def measure(spec: str, profile: str) -> dict[str, object]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", spec, "--profile",
                             profile], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    verdict = next((line.split(": ", 1)[1] for line in result.stdout.splitlines()
                    if line.startswith("verdict: ")), "?")
    return {"spec": spec, "profile": profile, "seconds": round(elapsed, 1),
            "fraction_of_budget": round(elapsed / BUDGETS[profile], 2), "verdict": verdict,
            "exit": result.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", action="append",
                        help="MODULE:ATTR (repeatable; default torch.optim:RAdam and "
                        "torch.optim:Adam, one per algorithm)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    specs = args.spec or ["torch.optim:RAdam", "torch.optim:Adam"]
    rows = [measure(spec, profile) for spec in specs for profile in BUDGETS]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['spec']} profile {row['profile']}: {row['seconds']} s = "
                  f"{row['fraction_of_budget']} of the budget; verdict {row['verdict']}")
    return 0 if all(float(str(r["fraction_of_budget"])) <= 1 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
