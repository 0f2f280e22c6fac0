"""The suite finds the bug: it rejects every implementation of the defect catalogue.

Each defect is run with the ``quick`` profile (the promise is that even the quickest
verdict rejects it), without shrinking and stopping at the first failed property. The
mutation score (defects rejected / defects) is printed at the end of the test run.
"""

from __future__ import annotations

import json

import pytest

from radam_verify.impls.defects import CATALOGUE

KILLED = "catalogue_defect_rejected"


@pytest.mark.parametrize("defect", list(CATALOGUE))
def test_the_quick_profile_rejects_the_defect(pytester: pytest.Pytester, defect: str,
                                             record_property: object) -> None:
    report = pytester.path / "verdict.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--verify-impl=radam_verify.impls.defects:{defect}",
        "--verify-convention=pytorch", "--verify-profile=quick", "--verify-shrink=no", "-x",
        f"--verify-report={report}")
    verdict = json.loads(report.read_text())
    failed = [p["property"] for p in verdict["properties"] if p["outcome"] == "failed"]
    assert callable(record_property)
    record_property(KILLED, {"defect": defect, "rejected": bool(failed), "by": failed[:1]})
    assert result.ret == pytest.ExitCode.TESTS_FAILED, f"{defect} was accepted"
    assert verdict["verdict"] == "deviates"


def test_the_catalogue_has_at_least_15_defects_each_with_one_documented_defect() -> None:
    assert len(CATALOGUE) >= 15
    for cls in CATALOGUE.values():
        assert cls.__doc__
        assert cls.__doc__.strip()
