"""The conformance report: a strict JSON verdict that follows its documented schema, its
Markdown and HTML renderings with one ulp histogram per property, a counterexample whose
exact value the reference reproduces, and pytest's own JUnit XML beside it."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import mpmath
import pytest

from radam_verify.conventions import parse_convention
from radam_verify.reference import exact_trajectory
from radam_verify.report.conformance import histogram
from radam_verify.suite.report import SCHEMA_FILE
from radam_verify.suite.scenario import scenario_from_json

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

DEFECT = "radam_verify.impls.defects:SwappedBetas"


@pytest.fixture(scope="module")
def defect_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One suite run (trajectories only) on a defect, with the JSON verdict and JUnit XML."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("defect")
    report, junit = folder / "verdict.json", folder / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--rootdir={folder}",
         "-c", "/dev/null", f"--verify-impl={DEFECT}", "--verify-convention=pytorch",
         "--verify-profile=quick", f"--verify-report={report}", f"--junitxml={junit}",
         "-k", "trajectories or state_dict"],
        capture_output=True, text=True, check=False, cwd=folder)
    assert report.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    return {"folder": folder, "report": report, "junit": junit, "returncode": done.returncode,
            "text": report.read_text(), "verdict": json.loads(report.read_text())}


def test_the_verdict_is_strict_json_and_follows_the_documented_schema(defect_run: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    json.loads(defect_run["text"], parse_constant=lambda name: pytest.fail(f"non-JSON {name}"))
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(defect_run["verdict"], schema)
    assert defect_run["verdict"]["verdict"] == "deviates"


def _failed(verdict: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in verdict["properties"] if p["outcome"] == "failed")


def test_the_counterexample_exact_value_is_the_reference_value(defect_run: dict[str, Any]) -> None:
    """The exact value the report prints is recomputed from the reproduction case with the
    reference trajectory (the group's hyperparameters, the tensor's own gradients)."""
    failure = _failed(defect_run["verdict"])["failure"]
    case_text = failure["reproduction"].split("replay(", 1)[1].rsplit(")", 1)[0]
    case = eval(case_text, {"__builtins__": {}}, {"None": None})  # the printed dict literal
    scenario = scenario_from_json(case["scenario"])
    assert scenario.start is None
    assert not scenario.added
    group = scenario.groups[failure["group"]]
    grads = [step[failure["group"]][failure["tensor"]] for step in scenario.steps]
    states = exact_trajectory(group.params[failure["tensor"]], grads, group.hyper,
                              parse_convention(case["convention"]))
    state = next(s for s in states if s.t == failure["t"])
    exact = getattr(state, failure["quantity"])[failure["index"]]
    printed = mpmath.mpf(failure["exact"])
    assert abs(exact - printed) <= abs(exact) * mpmath.mpf(10) ** -18


def test_the_histogram_puts_every_value_in_the_bin_that_contains_it() -> None:
    values = [0.0, 0.0, 0.3, 1.0, 1.7, 10.0, 10.0, 999.0, 2.5e7]
    h = histogram(values)
    assert h.exact == 2
    assert h.total == len(values)
    for v in values[2:]:
        k = next(i for i in range(len(h.counts)) if h.edges[i] <= v < h.edges[i + 1]
                 or (i == len(h.counts) - 1 and v == h.edges[-1]))
        assert h.counts[k] >= 1
    expected = [sum(1 for v in values if lo <= v < hi) for lo, hi in zip(h.edges, h.edges[1:], strict=False)]
    expected[-1] += sum(1 for v in values if v == h.edges[-1])
    assert list(h.counts) == expected
    assert all(math.isclose(b / a, 10 ** 0.25) for a, b in zip(h.edges, h.edges[1:], strict=False))


def test_markdown_and_html_show_one_histogram_per_judged_property(defect_run: dict[str, Any]) -> None:
    verdict, folder = defect_run["verdict"], Path(defect_run["folder"])
    markdown = (folder / "verdict.md").read_text()
    html = (folder / "verdict.html").read_text()
    judged = [p for p in verdict["properties"] if p.get("ulps")]
    assert judged
    for p in judged:
        section = markdown.split(f"## {p['property']}", 1)[1].split("\n## ", 1)[0]
        counts = [int(line.rsplit("|", 2)[1]) for line in section.splitlines()
                  if line.startswith("| ") and " to " in line]
        exact = sum(1 for u in p["ulps"] if u == 0)
        assert sum(counts) + exact == len(p["ulps"]) == p["judged"]
        svg = folder / "verdict-figures" / f"{p['id'].split('::')[-1].replace('_', '-')}.svg"
        assert svg.exists()
    assert html.count("<svg") == len(judged)
    for loader in ("<script", "<link", "<img", " src=", "url(http", "@import"):
        assert loader not in html  # nothing loads from outside the file
    failure = _failed(verdict)["failure"]
    assert failure["exact"] in markdown
    assert "replay(" in markdown


def test_junit_xml_from_pytest_still_records_each_property(defect_run: dict[str, Any]) -> None:
    root = ET.parse(defect_run["junit"]).getroot()
    cases = root.findall(".//testcase")
    verdict = defect_run["verdict"]
    assert len(cases) == len(verdict["properties"])
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == verdict["counts"]["failed"] >= 1
    failure = failures[0].find("failure")
    assert failure is not None
    assert "exact" in (failure.get("message", "") + (failure.text or ""))
