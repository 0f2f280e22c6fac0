"""The suite finds the bug, for its reason: every defect of the catalogue is rejected by the
property its defect must fail, in the quantity it must differ in.

Each defect is run with the ``quick`` profile (the promise is that even the quickest
verdict rejects it), without shrinking, over every property. A kill counts only when the
property named by the defect's ``shows`` fails with a counterexample in one of its
quantities, and no property stopped on an error of the suite itself (a crash of the suite
is never a kill). The mutation score counted that way is printed at the end of the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radam_verify.impls.defects import CATALOGUE

KILLED = "catalogue_defect_rejected"
SUITE = Path(__file__).parents[1] / "radam_verify" / "suite"


@pytest.mark.parametrize("defect", list(CATALOGUE))
def test_the_quick_profile_rejects_the_defect_for_its_reason(pytester: pytest.Pytester, defect: str,
                                                            record_property: object) -> None:
    shows = CATALOGUE[defect].shows
    report = pytester.path / "verdict.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--verify-impl=radam_verify.impls.defects:{defect}",
        "--verify-convention=pytorch", "--verify-profile=quick", "--verify-shrink=no",
        f"--verify-report={report}")
    verdict = json.loads(report.read_text())
    errors = [p["property"] for p in verdict["properties"] if p["outcome"] == "error"]
    failed = {p["property"]: (p.get("failure") or {}).get("quantity")
              for p in verdict["properties"] if p["outcome"] == "failed"}
    found = failed.get(shows.property)
    for_its_reason = not errors and found in shows.quantities
    assert callable(record_property)
    record_property(KILLED, {"defect": defect, "rejected": for_its_reason,
                             "by": f"{shows.property} ({found})" if for_its_reason else None,
                             "expected": f"{shows.property} ({' or '.join(shows.quantities)})",
                             "failed": sorted(failed), "errors": errors})
    assert not errors, f"{defect}: the suite itself raised in {errors}: a crash is not a kill"
    assert result.ret == pytest.ExitCode.TESTS_FAILED, f"{defect} was accepted"
    assert verdict["verdict"] == "deviates"
    assert shows.property in failed, (f"{defect} must fail {shows.property}; it failed "
                                      f"{sorted(failed)}")
    assert found in shows.quantities, (f"{defect} must differ in {shows.quantities} in "
                                       f"{shows.property}; the counterexample differs in {found}")


def test_every_defect_is_documented_and_names_a_property_of_the_suite() -> None:
    properties = {line.split("(")[0].removeprefix("def ")
                  for path in SUITE.glob("test_*.py")
                  for line in path.read_text().splitlines() if line.startswith("def test_")}
    quantities = {"theta", "m", "v", "state_dict", "gradient", "hyperparameters"}
    assert len(CATALOGUE) >= 15
    for cls in CATALOGUE.values():
        assert cls.__doc__
        assert cls.__doc__.strip()
        assert cls.shows.property in properties, cls.__name__
        assert set(cls.shows.quantities) <= quantities, cls.__name__
