"""How robust the catalogue's kills are: every defect run with the quick profile under several
seeds, each counted as tests/test_catalogue.py counts it (the property its ``shows`` names
fails in one of its quantities, with no error of the suite).

    python benchmarks/catalogue_seeds.py [--seeds 1-5] [--only NAME,...] [-j 2] [--json]

A kill that holds at seed 0 (what ``make test`` runs) but not at other seeds rests on lucky
examples; the strategies should reach the defect's regime by design. Exit status 1 if any
run missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from radam_verify.impls.catalogue import CATALOGUE


def _seeds(text: str) -> list[int]:
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-"))
            return list(range(lo, hi + 1))
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds={text!r}: give a range such as 1-5 or a list "
                                         "such as 1,4,9") from None


def run(defect: str, seed: int) -> dict[str, object]:
    cls = CATALOGUE[defect]
    shows = cls.shows
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "verdict.json"
        subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--assert=plain",
             f"--verify-impl={cls.spec()}", f"--verify-convention={cls.verify_convention}",
             "--verify-profile=quick", "--verify-shrink=no", f"--verify-seed={seed}",
             f"--verify-report={report}", "-n", "0", "-k", shows.property],
            cwd=folder, capture_output=True, text=True, check=False)
        if not report.exists():
            return {"defect": defect, "seed": seed, "killed": False, "found": "no verdict"}
        seen = shows.seen_in(json.loads(report.read_text()))
    return {"defect": defect, "seed": seed, "killed": seen.killed(shows), "found": seen.found,
            "errors": seen.errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=_seeds, default=_seeds("1-5"))
    parser.add_argument("--only", default="", help="defects, comma-separated (default: all)")
    parser.add_argument("-j", type=int, default=2, help="runs at once (default 2)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(CATALOGUE)
    unknown = sorted(set(names) - set(CATALOGUE))
    if unknown:
        parser.error(f"not in the catalogue: {', '.join(unknown)}")
    jobs = [(name, seed) for name in names for seed in args.seeds]
    results = []
    with ThreadPoolExecutor(args.j) as pool:
        for result in pool.map(lambda job: run(*job), jobs):
            results.append(result)
            if not args.json:
                mark = "killed" if result["killed"] else f"MISSED (failed in {result['found']})"
                print(f"{result['defect']} seed {result['seed']}: {mark}", flush=True)
    missed = [r for r in results if not r["killed"]]
    if args.json:
        print(json.dumps({"seeds": args.seeds, "runs": len(results), "missed": missed}, indent=1))
    else:
        print(f"{len(results) - len(missed)}/{len(results)} runs killed their defect "
              f"({len(names)} defects, seeds {args.seeds})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
