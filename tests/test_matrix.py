"""The compatibility matrix: its configurations, its table, and the repro scripts that show
each third-party deviation against the exact value."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import forked
import pytest

from radam_verify.cli import main
from radam_verify.matrix import page
from radam_verify.matrix.configurations import CONFIGURATIONS, Configuration, Finding
from radam_verify.matrix.run import interpreter, run_one, select, unavailable

ROOT = Path(__file__).resolve().parents[1]
REPRO = ROOT / "reports" / "repro"


def test_every_configuration_has_its_own_folder() -> None:
    slugs = [c.slug for c in CONFIGURATIONS]
    assert len(set(slugs)) == len(slugs)


def test_every_finding_names_a_repro_script_that_exists() -> None:
    for config in CONFIGURATIONS:
        for finding in config.findings:
            assert (REPRO / finding.repro).exists(), finding.repro


def test_cuda_configurations_say_why_they_do_not_run_without_a_gpu() -> None:
    import torch

    cuda = [c for c in CONFIGURATIONS if c.device.startswith("cuda")]
    assert cuda
    for config in cuda:
        reason = unavailable(config)
        assert (reason is None) == torch.cuda.is_available()


def test_a_cuda_row_keeps_its_gpu_verdict_on_a_machine_without_one(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the row would run")
    config = next(c for c in CONFIGURATIONS if c.device.startswith("cuda"))
    folder = tmp_path / config.slug
    folder.mkdir()
    (folder / "verdict.json").write_text("{}")
    outcome = run_one(config, tmp_path, "quick", None, 0)
    assert "kept the verdict of its last run on a GPU" in outcome
    assert (folder / "verdict.json").read_text() == "{}"
    assert not (folder / "skipped.txt").exists()
    (folder / "verdict.json").unlink()  # with nothing to keep, the row says why it did not run
    assert run_one(config, tmp_path, "quick", None, 0) == "not run: no CUDA device on this machine"
    assert (folder / "skipped.txt").exists()


def _verdict(outcomes: dict[str, str]) -> dict[str, Any]:
    return {"properties": [{"property": name, "outcome": outcome,
                            "failure": {"message": f"{name}: exact 1.0, observed 2.0"}}
                           for name, outcome in outcomes.items()]}


def test_a_failure_without_a_finding_is_shown_as_unexplained() -> None:
    config = Configuration("x", "m:C", findings=(Finding("known cause", "a.py", "test_a"),))
    lines = page.deviations(config, _verdict({"test_a_1": "failed", "test_b": "failed"}))
    assert any(line.startswith("`test_a_1`: known cause") and "repro/a.py" in line for line in lines)
    assert any(line.startswith("`test_b`: **unexplained**") for line in lines)


def test_a_failure_links_the_script_its_verdict_generated() -> None:
    config = Configuration("x", "m:C", findings=(Finding("known cause", "a.py", "test_a"),))
    verdict = _verdict({"test_a_1": "failed"})
    verdict["properties"][0]["failure"]["script"] = "repro/a_1.py"
    verdict["properties"][0]["failure"]["sentence"] = "theta[0] is 2.0 where the exact value is 1.0"
    (line,) = page.deviations(config, verdict)
    assert f"]({config.slug}/repro/a_1.py)" in line
    assert "theta[0] is 2.0 where the exact value is 1.0" in line


MATRIX = REPRO.parent / "matrix"


def test_every_failed_row_of_the_committed_matrix_links_a_generated_script_that_exists() -> None:
    """The committed table links, for every failed property of every row, the stand-alone
    script its verdict names, and that file is there (reports/matrix/<slug>/repro/)."""
    table = (MATRIX / "README.md").read_text()
    failed = 0
    for config in CONFIGURATIONS:
        path = MATRIX / config.slug / "verdict.json"
        if not path.exists():
            continue
        for p in json.loads(path.read_text())["properties"]:
            if p["outcome"] != "failed":
                continue
            failed += 1
            script = p["failure"].get("script")
            assert script, f"{config.slug}: {p['property']} has no generated script"
            assert (MATRIX / config.slug / script).is_file()
            assert f"]({config.slug}/{script})" in table
    assert failed > 0


def test_every_committed_verdict_of_the_matrix_follows_the_documented_schema() -> None:
    """Each row's verdict.json, whatever reading it was judged against (eps_root, one
    moment bias-corrected, Lookahead's axes, LAMB's clipping), is valid against
    ``radam_verify/suite/verdict.schema.json``, the schema the README documents."""
    import jsonschema

    from radam_verify.suite.report import SCHEMA_FILE

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    checked = 0
    for config in CONFIGURATIONS:
        path = MATRIX / config.slug / "verdict.json"
        if path.exists():
            errors = [e.message for e in validator.iter_errors(json.loads(path.read_text()))]
            assert not errors, f"{config.slug}: {errors[:3]}"
            checked += 1
    assert checked >= 150


def test_the_identified_column_names_a_preset_a_reading_without_one_or_none() -> None:
    """A row's identified reading: the preset, the axes where no preset matches (optax's
    amsgrad with one bias correction off), or that no reading reproduced the probes."""
    assert page._identified({"convention": "optax-amsgrad", "consistent": True}) == \
        "`optax-amsgrad`"
    found = {"convention": None, "consistent": True,
             "axes": {"algorithm": "adam", "bias_correction": "v", "threshold": None}}
    assert page._identified(found) == "no preset (algorithm=adam, bias_correction=v)"
    assert page._identified({"convention": None, "consistent": False, "axes": {}}) == \
        "none (no reading reproduces every probe)"


def test_a_finding_whose_property_passed_is_flagged_as_not_reproduced() -> None:
    config = Configuration("x", "m:C", findings=(Finding("known cause", "a.py", "test_a"),))
    lines = page.deviations(config, _verdict({"test_a_1": "passed"}))
    assert lines == ["`test_a...`: expected finding not shown by this run's counterexamples (a.py)"]


def test_render_only_writes_the_table_with_a_row_per_configuration(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--out", str(tmp_path), "--render-only"]) == 0
    table = (tmp_path / "README.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == len(CONFIGURATIONS) + 1  # and the heading
    assert "not run yet" in table
    index = json.loads((tmp_path / "matrix.json").read_text())
    assert [entry["folder"] for entry in index] == [c.slug for c in CONFIGURATIONS]
    assert "wrote" in capsys.readouterr().out


def test_an_unknown_selection_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--only", "no-such-implementation"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "matches no configuration" in err


#: the scripts of configurations that run here; those of a framework with an environment of
#: its own run in that environment, in frameworks/test_<name>.py
SCRIPTS = sorted({f.repro for c in CONFIGURATIONS if not c.environment for f in c.findings})
#: the scripts only CUDA configurations name: they need a GPU and skip without one
CUDA_SCRIPTS = ({f.repro for c in CONFIGURATIONS if c.device.startswith("cuda") for f in c.findings}
                - {f.repro for c in CONFIGURATIONS if c.device == "cpu" for f in c.findings})


def test_shards_split_the_selection_into_disjoint_shares_that_cover_it() -> None:
    everything = [c.slug for c in select([])]
    for count in (1, 2, 3, 5):
        shares = [[c.slug for c in select([], (index, count))] for index in range(1, count + 1)]
        assert sorted(s for share in shares for s in share) == sorted(everything)
        assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_a_bad_shard_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["matrix", "--shard", "3/2"])
    assert stopped.value.code == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["radam-verify matrix: error: argument --shard: expected I/N with 1 <= I <= N, "
                   "got '3/2' (see --help)"]


def test_every_environment_a_configuration_names_is_declared_in_the_noxfile() -> None:
    spec = importlib.util.spec_from_file_location("noxfile", ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    named = {c.environment for c in CONFIGURATIONS if c.environment}
    assert named
    assert named <= set(noxfile.FRAMEWORKS)
    for name in named:  # each has its adapter's tests, run by that environment's session
        assert (ROOT / "frameworks" / f"test_{name}.py").exists()


def test_a_configuration_without_an_environment_runs_in_this_interpreter() -> None:
    assert interpreter(Configuration("x", "torch.optim:RAdam")) == sys.executable


def test_a_finding_can_be_told_apart_by_its_counterexample() -> None:
    flush = Finding("flushed", "f.py", when=r"observed 0\.0;")
    other = Finding("schedule", "s.py")
    config = Configuration("x", "m:C", findings=(flush, other))
    verdict = {"properties": [
        {"property": "test_a", "outcome": "failed", "failure": {"message": "exact 1e-41, observed 0.0; e"}},
        {"property": "test_b", "outcome": "failed", "failure": {"message": "exact 1.0, observed 1.1; e"}}]}
    lines = page.deviations(config, verdict)
    assert lines[0].startswith("`test_a`: flushed")
    assert lines[1].startswith("`test_b`: schedule")


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_repro_script_shows_its_deviation_against_the_exact_value(script: str) -> None:
    """With the pinned versions (constraints.txt) every script reproduces its deviation:
    it prints the exact and observed values and exits 1."""
    text = (REPRO / script).read_text()
    # a framework in an environment of its own (bitsandbytes) is tested there
    for module in re.findall(r"^\s*(?:from|import) ([A-Za-z_]+)", text, flags=re.MULTILINE):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    if script in CUDA_SCRIPTS:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("a CUDA configuration's script: no CUDA device on this machine")
    done = forked.run([sys.executable, str(REPRO / script)], timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEVIATION reproduced" in done.stdout
    assert "exact" in done.stdout
    assert "radam_verify" not in text  # stand-alone: a maintainer needs only their package


def test_every_torch_and_fastai_cpu_row_runs_in_double_precision_too() -> None:
    """float64 and complex128 exercise other kernels and the reading of double-precision state."""
    torch_modules = ("torch.optim", "torch_optimizer", "pytorch_optimizer", "optimi", "fastai.optimizer",
                     "radam_verify.timm_optim")
    rows = [c for c in CONFIGURATIONS if c.device == "cpu" and c.module in torch_modules]
    dtypes: dict[tuple[str, str], set[str]] = {}
    for c in rows:
        dtypes.setdefault((c.spec, c.label), set()).add(c.dtype)
    assert dtypes
    for key, found in dtypes.items():  # (and bfloat16 or float16 besides, where a row has them)
        assert found - {"bfloat16", "float16"} in ({"float32", "float64"},
                                                   {"complex64", "complex128"}), key


def _first_generated_script_of_each_row() -> list[str]:
    found = []
    for config in CONFIGURATIONS:
        path = MATRIX / config.slug / "verdict.json"
        if config.environment:  # its framework is not installed here (frameworks/test_*.py)
            continue
        if not path.exists():
            continue
        scripts = sorted(p["failure"]["script"] for p in json.loads(path.read_text())["properties"]
                         if p["outcome"] == "failed" and p["failure"].get("script"))
        if scripts:
            found.append(f"{config.slug}/{scripts[0]}")
    return found


@pytest.mark.parametrize("script", _first_generated_script_of_each_row())
def test_a_generated_script_of_each_failed_row_still_shows_its_deviation(script: str) -> None:
    """With the pinned versions, one generated script per row with failures exits 1 and says
    DEVIATES (the others are written by the same code; test_standalone covers each kind)."""
    done = forked.run([sys.executable, str(MATRIX / script)], timeout=300)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "DEVIATES" in done.stdout


def test_a_cuda_script_without_a_gpu_says_so_and_runs_nothing() -> None:
    """Without a GPU each CUDA configuration's script exits 2 with one line, so a maintainer
    without one is told why instead of reading a traceback."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the scripts run")
    assert CUDA_SCRIPTS
    for script in sorted(CUDA_SCRIPTS):
        done = forked.run([sys.executable, str(REPRO / script)], timeout=300)
        assert done.returncode == 2, script + done.stdout + done.stderr
        assert done.stdout.count("\n") == 1
        assert "no CUDA device" in done.stdout
