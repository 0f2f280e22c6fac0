"""The MindSpore adapter against MindSpore itself: mindspore.experimental.optim.RAdam is
driven through its own API (groups as dicts, the optimizer called with every gradient,
exp_avg/exp_avg_sq Parameters and one step count, save_checkpoint/load_checkpoint), its state
is read and injected exactly, and its arithmetic is rejected for float32 scalars."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from radam_verify.adapters import GroupSpec, ParamState, load_adapter
from radam_verify.conventions import parse_convention
from radam_verify.hyper import Hyper
from radam_verify.matrix.configurations import CONFIGURATIONS
from radam_verify.reference import ExactState, exact_trajectory

SPEC = "mindspore.experimental.optim:RAdam"
#: MindSpore's modules warn about deprecated numpy and typing uses on import
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]
#: the properties its float32 scalars make fail (mindspore_float32_scalars.py), and the one a
#: beta2 that rounds to 1 in float32 makes raise (mindspore_beta2_near_one_raises.py)
EXPLAINED = {
    "test_scalars_at_the_edges_of_their_domain_follow_the_exact_step",
    "test_parameter_groups_keep_their_own_hyperparameters",
    "test_weight_decay_follows_the_convention",
    "test_tensors_of_every_size_and_shape_follow_the_exact_step[default]",
    "test_late_steps_with_r_t_near_one_match_the_exact_step",
    "test_one_step_from_its_own_state_matches_the_exact_step",
    "test_steps_around_the_threshold_follow_the_exact_branch",
    "test_trajectories_stay_within_the_global_bound",
    "test_state_dict_round_trip_continues_exactly"}


def check(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", SPEC,
                           "--profile", "quick", "--report", str(report), "-n", "0", *args],
                          capture_output=True, text=True, check=False, timeout=900, cwd=tmp_path)
    assert (report / "verdict.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads((report / "verdict.json").read_text())


def test_mindspore_radam_is_driven_and_rejected_for_its_float32_scalars(tmp_path: Path) -> None:
    code, verdict = check(tmp_path, "--dtype", "float64", "--convention", "pytorch")
    assert code == 1, verdict
    implementation = verdict["implementation"]
    assert isinstance(implementation, dict)
    assert (implementation["kind"], implementation["distribution"]) == ("mindspore", "mindspore")
    assert implementation["hyperparameter_keys"] == ["lr", "betas", "eps", "weight_decay"]
    assert implementation["state_layout"]["counter"] == "group"
    found = {p["property"]: p["outcome"] for p in verdict["properties"]}  # type: ignore[union-attr]
    failed = {p for p, o in found.items() if o == "failed"}
    assert failed <= EXPLAINED
    assert failed >= {"test_trajectories_stay_within_the_global_bound",
                      "test_one_step_from_its_own_state_matches_the_exact_step"}
    assert found["test_step_leaves_gradients_and_hyperparameters_unchanged"] == "passed"
    assert sorted(p for p, o in found.items() if o == "skipped") == [
        "test_a_loaded_state_dict_is_a_copy",
        "test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_format[default]",
        "test_adam_steps_with_eps_zero_do_not_depend_on_the_gradient_scale",  # Adam's
        "test_every_code_path_conforms[default]",
        "test_hyperparameters_set_between_steps_take_effect",  # set in torch groups only
        "test_lamb_step_of_each_tensor_has_norm_lr_phi",  # LAMB's
        "test_lamb_trust_ratio_with_a_zero_norm_follows_the_rule",  # LAMB's
        "test_lookahead_cycles_follow_the_exact_fast_and_slow_weights",  # no Lookahead
        "test_maximize_ascends_as_the_exact_step",
        "test_step_calls_its_closure_once_and_returns_its_loss",
        "test_strided_views_follow_the_exact_step_and_write_only_inside_them[default]"]
    failure = next(p["failure"] for p in verdict["properties"]  # type: ignore[union-attr]
                   if p["property"] == "test_trajectories_stay_within_the_global_bound")
    script = tmp_path / "report" / failure["script"]
    shown = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           check=False, timeout=300, cwd=tmp_path)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "DEVIATES" in shown.stdout
    # a failed compilation's graph goes to a temporary folder, not the working directory
    assert not (tmp_path / "rank_0").exists()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_with_float32_exact_hyperparameters_groups_decay_and_injection_follow_the_exact_step(
    dtype: str
) -> None:
    """With hyperparameters float32 represents exactly, and a few steps from an injected
    late state (where the float32 schedule is far from the threshold), MindSpore's RAdam is
    close to exact (its float32 bias corrections allow no more than float32's precision, in
    float64 too): every group's own lr, betas, eps and L2 decay reach it."""
    adapter = load_adapter(SPEC, dtype=dtype)
    convention = parse_convention("pytorch")
    hypers = [Hyper(lr=2.0**-8, beta1=0.875, beta2=1 - 2.0**-10, eps=2.0**-20, weight_decay=0.25),
              Hyper(lr=2.0**-5, beta1=0.5, beta2=0.75, eps=2.0**-10)]
    thetas = [np.array([0.5, -2.0, 3.0]), np.array([[1.0, 0.25]])]
    instance = adapter.open([GroupSpec(h, (th,)) for h, th in zip(hypers, thetas, strict=True)])
    start = [ParamState(thetas[0], np.array([0.125, -0.5, 0.25]), np.array([0.25, 0.5, 0.125]), 400),
             ParamState(thetas[1], np.array([0.0, 0.5]), np.array([0.0625, 0.25]), 400)]
    instance.inject([[s] for s in start])
    rng = np.random.default_rng(7)
    grads = [[rng.uniform(-1, 1, th.shape) for th in thetas] for _ in range(4)]
    for step in grads:
        instance.step([[g] for g in step])
    held = instance.read()
    for k, (hyper, state) in enumerate(zip(hypers, start, strict=True)):
        exact = exact_trajectory(state.theta.ravel(), [step[k].ravel() for step in grads], hyper,
                                 convention, start=ExactState.from_floats(
                                     state.theta.ravel(), state.m, state.v, state.t))[-1]
        assert held[k][0].t == state.t + len(grads)
        for name, got, want in (("theta", held[k][0].theta, exact.theta),
                                ("m", held[k][0].m, exact.m), ("v", held[k][0].v, exact.v)):
            wanted = np.array([float(x) for x in want])
            assert np.allclose(got, wanted, rtol=1e-5, atol=0), (k, name, got, wanted)


def test_a_state_injected_at_a_late_step_reads_back_as_injected() -> None:
    adapter = load_adapter(SPEC, dtype="float64")
    thetas = (np.array([0.5, -2.0, 3.0]), np.array(1.5))
    instance = adapter.open([GroupSpec(Hyper(beta1=0.99, beta2=0.99999), thetas)])
    wanted = [ParamState(thetas[0], np.array([1e-3, -2e-2, 0.5]), np.array([1e-6, 4e-4, 0.3]), 2000),
              ParamState(thetas[1], np.array(0.25), np.array(0.5), 2000)]
    instance.inject([wanted])
    for held, want in zip(instance.read()[0], wanted, strict=True):
        for got, value in ((held.theta, want.theta), (held.m, want.m), (held.v, want.v)):
            assert np.array_equal(got, np.ravel(value))
        assert held.t == 2000
    instance.step([[np.array([0.1, 0.2, 0.3]), np.array(0.5)]])
    assert [s.t for s in instance.read()[0]] == [2001, 2001]


def test_a_checkpoint_loads_into_a_fresh_optimizer_and_continues_bit_for_bit(tmp_path: Path) -> None:
    adapter = load_adapter(SPEC, dtype="float32")
    groups = [GroupSpec(Hyper(lr=1e-2), (np.array([0.5, -1.0]), np.array([2.0]))),
              GroupSpec(Hyper(lr=1e-3, beta2=0.99), (np.array([[0.25, 4.0]]),))]
    rng = np.random.default_rng(3)
    steps = [[[rng.normal(size=2), rng.normal(size=1)], [rng.normal(size=(1, 2))]]
             for _ in range(8)]
    straight, saving = adapter.open(groups), adapter.open(groups)
    for step in steps[:4]:
        straight.step(step)
        saving.step(step)
    resumed = adapter.open([GroupSpec(g.hyper, tuple(s.theta.reshape(np.shape(p)) for s, p in
                                                     zip(held, g.params, strict=True)))
                            for g, held in zip(groups, saving.read(), strict=True)])
    resumed.load(saving.save())
    for step in steps[4:]:
        straight.step(step)
        resumed.step(step)
    for left, right in zip(resumed.read(), straight.read(), strict=True):
        for a, b in zip(left, right, strict=True):
            assert a.t == b.t == 8
            for name in ("theta", "m", "v"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize(("args", "named"), [
    (["--kwargs", '{"betas": [0.5, 0.9]}'], "betas"),
    (["--dtype", "bfloat16"], "bfloat16"),
    (["--device", "cuda"], "cpu"),
])
def test_drawn_hyperparameters_other_dtypes_and_devices_are_one_line_usage_errors(
    args: list[str], named: str, tmp_path: Path
) -> None:
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", SPEC, *args],
                          capture_output=True, text=True, check=False, timeout=300, cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert named in done.stderr
    assert "Traceback" not in done.stderr


REPRO = Path(__file__).resolve().parents[1] / "reports" / "repro"
SCRIPTS = sorted({f.repro for c in CONFIGURATIONS if c.environment == "mindspore"
                  for f in c.findings})


def test_the_matrix_has_mindspore_rows_with_findings() -> None:
    assert len(SCRIPTS) == 3


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_mindspore_repro_script_of_the_matrix_shows_its_deviation(script: str,
                                                                         tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(REPRO / script)], capture_output=True, text=True,
                          check=False, timeout=300, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEVIATION reproduced" in done.stdout
    assert "exact" in done.stdout
    assert not (tmp_path / "rank_0").exists()
