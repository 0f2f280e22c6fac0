"""The conformance report: a strict JSON verdict that follows its documented schema, its
Markdown and HTML renderings with one error histogram per property at the bound's scale, a
counterexample whose exact value and error the reference reproduces, its one sentence, its
stand-alone script, the CI summary, and pytest's own JUnit XML beside it."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from html import escape
from pathlib import Path
from typing import Any

import forked
import mpmath
import pytest

from radam_verify.conventions import parse_convention
from radam_verify.reference import ExactState, exact_trajectory
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


@pytest.fixture(scope="module")
def correct_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same properties on a correct implementation: every one passes."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("correct")
    report = folder / "verdict.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--rootdir={folder}",
         "-c", "/dev/null", "--verify-impl=radam_verify.impls.torch_radam:ConventionRAdam",
         "--verify-convention=pytorch", "--verify-profile=quick", f"--verify-report={report}",
         "-k", "trajectories or state_dict or unchanged"],
        capture_output=True, text=True, check=False, cwd=folder)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {"folder": folder, "verdict": json.loads(report.read_text())}


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
    judged = [p for p in verdict["properties"] if p.get("errors")]
    assert judged
    for p in judged:
        section = markdown.split(f"## {p['title']}", 1)[1].split("\n## ", 1)[0]
        counts = [int(line.rsplit("|", 2)[1]) for line in section.splitlines()
                  if line.startswith("| ") and " to " in line]
        exact = sum(1 for u in p["errors"] if u == 0)
        assert sum(counts) + exact == len(p["errors"]) == p["judged"] - p["out_of_domain"] \
            or sum(counts) + exact == len(p["errors"])
        svg = folder / "verdict-figures" / f"{p['id'].split('::')[-1].replace('_', '-')}.svg"
        assert svg.exists()
    assert html.count("<svg") == len(judged)
    for loader in ("<script", "<link", "<img", " src=", "url(http", "@import"):
        assert loader not in html  # nothing loads from outside the file
    failure = _failed(verdict)["failure"]
    assert failure["exact"] in markdown
    assert "replay(" in markdown


def test_every_passing_property_shows_its_errors_below_their_bounds_in_one_unit(
        correct_run: dict[str, Any]) -> None:
    """Errors and bounds are per example, aligned, in ulps of the operand scale: every error
    of a passing property is at most its bound, and the table cell states the worst example's
    pair as the verdict holds it."""
    verdict, folder = correct_run["verdict"], Path(correct_run["folder"])
    markdown = (folder / "verdict.md").read_text()
    assert "operand scale" in verdict["units"]["errors"]
    assert "operand scale" in markdown
    assert "ulps of the result" in markdown
    passing = [p for p in verdict["properties"] if p["outcome"] == "passed" and p.get("errors")]
    assert passing
    for p in passing:
        errors, bounds, ratios = p["errors"], p["bounds"], p["ratios"]
        assert len(errors) == len(bounds) == len(ratios) == len(p["result_ulps"])
        assert all(e <= b * (1 + 1e-9) for e, b in zip(errors, bounds, strict=True))
        assert all(math.isclose(e / b, r, rel_tol=1e-6) for e, b, r in
                   zip(errors, bounds, ratios, strict=True) if b > 0 and e > 0)
        k = max(range(len(ratios)), key=ratios.__getitem__)
        assert f"{errors[k]:.3g} of {bounds[k]:.3g} ulps" in markdown
        assert 0 <= p["schedule_share"] <= 1
        if p["schedule_share"]:  # the share of the bound the textbook schedule's allowance took
            assert f"allowance took up to {p['schedule_share']:.0%} of a bound" in markdown
    assert "textbook: every legitimate binary64 evaluation allowed" in markdown


def test_the_failure_error_is_counted_in_ulps_of_the_operand_scale(defect_run: dict[str, Any]) -> None:
    """Recomputed here from the exact trajectory: the operand scale is the largest of the
    quantity before the step, what the step adds (theta: the update; m and v: new - beta
    old) and the result (exact or observed), and error_ulps is |observed - exact| in float32
    ulps at that magnitude; result_ulps counts ulps of the result itself."""
    import numpy as np

    failure = _failed(defect_run["verdict"])["failure"]
    convention = parse_convention(failure["case"]["convention"])
    assert convention.weight_decay == "l2"  # theta before the step enters the update as is
    scenario = scenario_from_json(failure["case"]["scenario"])
    group = scenario.groups[failure["group"]]
    grads = [step[failure["group"]][failure["tensor"]] for step in scenario.steps]
    theta0 = group.params[failure["tensor"]]
    states = [ExactState.initial([float(x) for x in theta0]),
              *exact_trajectory(theta0, grads, group.hyper, convention)]
    after = next(s for s in states if s.t == failure["t"])
    before = next(s for s in states if s.t == failure["t"] - 1)
    quantity, i = failure["quantity"], failure["index"]
    new, old = float(getattr(after, quantity)[i]), float(getattr(before, quantity)[i])
    beta = {"theta": 1.0, "m": group.hyper.beta1, "v": group.hyper.beta2}[quantity]
    observed = float(failure["observed"])
    scale = max(abs(old), abs(new - beta * old), abs(new), abs(observed))
    ulp = float(np.spacing(np.float32(scale)))
    assert math.isclose(failure["error_ulps"], abs(observed - new) / ulp, rel_tol=1e-2)
    assert failure["error_ulps"] > failure["bound_ulps"]
    result_ulp = float(np.spacing(np.float32(max(abs(new), abs(observed)))))
    assert math.isclose(failure["result_ulps"], abs(observed - new) / result_ulp, rel_tol=1e-3)


def test_each_property_has_its_title_and_the_line_its_docstring_gives(defect_run: dict[str, Any]) -> None:
    import importlib

    for p in defect_run["verdict"]["properties"]:
        module_name, function = p["id"].split("::")
        name = function.split("[")[0]
        module = importlib.import_module("radam_verify.suite." + module_name.removesuffix(".py"))
        doc = " ".join(getattr(module, name).__doc__.split())
        assert doc.startswith(p["checks"].rstrip("."))
        words = name.removeprefix("test_").split("_")
        assert p["title"].lower().replace("_", " ").split() [:3] == words[:3]


def test_a_bitwise_property_says_what_it_compared(correct_run: dict[str, Any]) -> None:
    verdict, folder = correct_run["verdict"], Path(correct_run["folder"])
    html = (folder / "verdict.html").read_text()
    for name in ("state_dict", "unchanged"):
        found = next(p for p in verdict["properties"] if name in p["id"])
        assert found["outcome"] == "passed"
        assert found["judged"] == 0
        assert found["compared"] >= found["examples"] > 0
        assert escape(f"{found['compared']} steps compared: {found['compares']}") in html
    assert "judged 0" not in html


def test_a_failure_leads_with_one_sentence_that_says_where_what_and_how_far(
        defect_run: dict[str, Any]) -> None:
    verdict, folder = defect_run["verdict"], Path(defect_run["folder"])
    failure = _failed(verdict)["failure"]
    sentence = failure["sentence"]
    assert "\n" not in sentence
    for part in (verdict["implementation"]["spec"], verdict["dtype"],
                 f"{failure['quantity']}[{failure['index']}]", f"group {failure['group']}",
                 f"tensor {failure['tensor']}", f"after step {failure['t']}", failure["exact"],
                 repr(float(failure["observed"])), f"{failure['bound_ulps']:.3g} ulps", "with "):
        assert part in sentence, part
    for page in ("verdict.md", "verdict.html", "verdict-summary.md"):
        text = (folder / page).read_text()
        assert sentence.replace("'", "&#x27;") in text or sentence in text, page


def test_the_ci_summary_names_each_failure_and_links_its_script(defect_run: dict[str, Any]) -> None:
    verdict, folder = defect_run["verdict"], Path(defect_run["folder"])
    summary = (folder / "verdict-summary.md").read_text()
    assert verdict["verdict"].upper() in summary.splitlines()[0]
    failed = [p for p in verdict["properties"] if p["outcome"] == "failed"]
    assert failed
    for p in failed:
        assert p["title"] in summary
        script = p["failure"]["script"]
        assert f"]({script})" in summary
        assert (folder / script).is_file()
    assert len(summary.splitlines()) <= 6 + len(failed)


def _run_script(path: Path, *args: str, without_radam_verify: bool = False) -> Any:
    """Run a script; ``without_radam_verify`` makes radam_verify unimportable, to show that the
    script itself needs only torch and numpy (the defects live in radam_verify, so pointed at
    one it imports radam_verify as its implementation)."""
    import sys

    block = "sys.modules['radam_verify'] = None; " if without_radam_verify else ""
    runner = (f"import runpy, sys; sys.argv = sys.argv[1:]; {block}"
              "runpy.run_path(sys.argv[0], run_name='__main__')")
    return forked.run([sys.executable, "-c", runner, str(path), *args], timeout=300)


def test_each_repro_script_exits_1_on_the_defect_and_0_on_a_correct_implementation(
        defect_run: dict[str, Any]) -> None:
    import ast

    folder = Path(defect_run["folder"])
    for p in defect_run["verdict"]["properties"]:
        if p["outcome"] != "failed":
            continue
        script = folder / p["failure"]["script"]
        tree = ast.parse(script.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {str(node.module).split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        assert imported <= {"contextlib", "decimal", "importlib", "io", "math", "pickle", "sys",
                            "traceback", "numpy", "torch"}
        deviating = _run_script(script)
        assert deviating.returncode == 1, deviating.stdout + deviating.stderr
        assert "DEVIATES" in deviating.stdout
        if p["failure"]["quantity"] in ("theta", "m", "v"):
            assert p["failure"]["exact"] in deviating.stdout
        fixed = _run_script(script, "torch.optim:RAdam", without_radam_verify=True)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr


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


def _chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="no chromium or chromium-browser on PATH")
def test_the_html_verdict_fits_a_1280_pixel_window(defect_run: dict[str, Any], tmp_path: Path) -> None:
    """Chromium lays the page out at 1280 px: nothing is wider than the window (the measuring
    script is added to a copy; the verdict itself has none), and the screenshot is drawn."""
    import subprocess

    import numpy as np
    from matplotlib.image import imread

    folder = Path(defect_run["folder"])
    html = (folder / "verdict.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", "<script>document.body.setAttribute('data-width', "
                                  "document.documentElement.scrollWidth + ' ' + "
                                  "document.documentElement.clientWidth)</script></body>"))
    command = [str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--hide-scrollbars", "--window-size=1280,2000"]
    dom = subprocess.run([*command, "--dump-dom", probe.as_uri()], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    scroll, client = (int(x) for x in dom.split('data-width="', 1)[1].split('"', 1)[0].split())
    assert client == 1280
    assert scroll <= client, f"the page is {scroll} px wide in a {client} px window"
    screenshot = tmp_path / "verdict.png"
    subprocess.run([*command, f"--screenshot={screenshot}", (folder / "verdict.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(imread(screenshot))[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    assert (pixels < 0.95).any(axis=-1).mean() > 0.03


def test_the_header_says_what_identify_named_a_preset_a_reading_without_one_or_none() -> None:
    """A reading no preset matches (optax.amsgrad with one bias correction off) is named by
    its spec, where the header once said only null."""
    from radam_verify.identify import Identification
    from radam_verify.report.conformance import identified_as

    reading = parse_convention("optax-amsgrad,bias_correction=v")
    found = Identification({"bias_correction": "v"}, None, reading, True, {}, (), reading)
    assert identified_as(found.as_json()) == ("no preset matches; the reading "
                                              "optax-amsgrad,bias_correction=v")
    preset = parse_convention("optax-amsgrad")
    named = Identification({}, "optax-amsgrad", preset, True, {}, (), preset)
    assert identified_as(named.as_json()) == "optax-amsgrad"
    lost = Identification({}, None, None, False, {}, (), reading)
    assert identified_as(lost.as_json()) == "no consistent reading"
