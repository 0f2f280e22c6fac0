"""The suite finds the bug, for its reason: every defect of the catalogue is rejected by the
property its defect must fail, in the quantity it must differ in.

Each defect is run with the ``quick`` profile (the promise is that even the quickest
verdict rejects it), without shrinking, on the property its ``shows`` names (the correct
implementations run every property in tests/test_plugin.py). A kill counts only when that
property fails with a counterexample in one of its quantities, and not on an error of the
suite itself (a crash of the suite is never a kill). The mutation score counted that way
is printed at the end of the run. The stand-alone script the verdict writes for that
failure must exit 1 on the defect and 0 on the correct implementation it varies. The
defects of real sizes and layouts are rejected for their reason in bfloat16 and float16
as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import forked
import pytest

from radam_verify.impls.catalogue import ADAM_CATALOGUE, CATALOGUE, RADAM_CATALOGUE

KILLED = "catalogue_defect_rejected"
SUITE = Path(__file__).parents[1] / "radam_verify" / "suite"


@pytest.mark.parametrize("defect", list(CATALOGUE))
def test_the_quick_profile_rejects_the_defect_for_its_reason(pytester: pytest.Pytester, defect: str,
                                                            record_property: object) -> None:
    cls = CATALOGUE[defect]
    shows = cls.shows
    report = pytester.path / "verdict.json"
    # in pytest's own process (-n 0): which property rejects a defect does not depend on
    # where it runs, and a worker process per defect would add its start-up 17 times
    # (tests/test_watchdog.py runs the default worker process)
    result = forked.runpytest(
        pytester, "-p", "no:cacheprovider", "--assert=plain",
        f"--verify-impl={cls.spec()}",
        f"--verify-convention={cls.verify_convention}", "--verify-profile=quick",
        "--verify-shrink=no",
        f"--verify-report={report}", "-n", "0", "-k", shows.property)
    verdict = json.loads(report.read_text())
    seen = shows.seen_in(verdict)
    errors, failed, found = seen.errors, seen.failed, seen.found
    for_its_reason = seen.killed(shows)
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
    # the stand-alone script of that failure shows the defect, and not on a correct implementation
    failure = next(p["failure"] for p in verdict["properties"]
                   if p["property"].split("[")[0] == shows.property)
    script = pytester.path / failure["script"]
    shown, correct = (forked.run([sys.executable, str(script), *spec], timeout=300,
                                 stderr=subprocess.STDOUT) for spec in ((), (cls.correct,)))
    assert shown.returncode == 1, f"{script.name} on {defect}:\n{shown.stdout}"
    assert correct.returncode == 0, f"{script.name} on {cls.correct}:\n{correct.stdout}"


#: the properties of real sizes and layouts, whose defects a narrower format must not hide
SIZES_AND_LAYOUTS = ("test_tensors_of_every_size_and_shape_follow_the_exact_step",
                     "test_strided_views_follow_the_exact_step_and_write_only_inside_them")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("defect", [name for name, cls in CATALOGUE.items()
                                    if cls.shows.property in SIZES_AND_LAYOUTS])
def test_a_size_or_layout_defect_is_rejected_for_its_reason_in_bfloat16_and_float16(
        pytester: pytest.Pytester, defect: str, dtype: str) -> None:
    """The same defects with bfloat16 and float16 parameters, judged by the format's
    error model (an operation in binary32 rounded to the format): its looser bound still
    rejects them, for their reason, with the quick profile."""
    cls = CATALOGUE[defect]
    report = pytester.path / "verdict.json"
    forked.runpytest(pytester, "-p", "no:cacheprovider", "--assert=plain",
                     f"--verify-impl={cls.spec()}", f"--verify-convention={cls.verify_convention}",
                     "--verify-profile=quick", "--verify-shrink=no", f"--verify-dtype={dtype}",
                     f"--verify-report={report}", "-n", "0", "-k", cls.shows.property)
    verdict = json.loads(report.read_text())
    assert verdict["dtype"] == dtype
    seen = cls.shows.seen_in(verdict)
    assert seen.killed(cls.shows), (defect, dtype, seen)


def test_every_defect_is_documented_and_names_a_property_of_the_suite() -> None:
    properties = {line.split("(")[0].removeprefix("def ")
                  for path in SUITE.glob("test_*.py")
                  for line in path.read_text().splitlines() if line.startswith("def test_")}
    quantities = {"theta", "m", "v", "v_max", "slow", "state_dict", "gradient",
                  "hyperparameters", "closure", "canary", "storage"}
    assert len(RADAM_CATALOGUE) >= 15
    assert len(ADAM_CATALOGUE) >= 5
    for cls in CATALOGUE.values():
        assert cls.__doc__
        assert cls.__doc__.strip()
        assert cls.shows.property in properties, cls.__name__
        assert set(cls.shows.quantities) <= quantities, cls.__name__
