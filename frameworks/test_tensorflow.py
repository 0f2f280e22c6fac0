"""The Keras adapter against TensorFlow itself: tensorflow_addons' RectifiedAdam is driven
through Keras' optimizer API (one optimizer per group, apply_gradients, slots m and v,
iterations, tf.train.Checkpoint), its state is read and injected exactly, and its
arithmetic is rejected for float32 hyperparameters and a schedule kept in the parameters'
dtype. This environment has numpy 1.26 (TensorFlow 2.15 pins numpy < 2): radam-verify's
numpy-only tests run here as well (``noxfile.py``)."""

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

SPEC = "tensorflow_addons.optimizers:RectifiedAdam"
#: its reading: threshold 5 with >=, an SGD step below, eps beside the bias-corrected
#: sqrt(v), weight decay as theta -= lr (update + wd theta), which is decoupled decay
CONVENTION = "optax,weight_decay=decoupled"
#: tensorflow_addons announces its end of life on import; Keras' legacy optimizers and
#: TensorFlow's own modules warn about deprecated numpy and typing on import
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
#: the properties its float32 hyperparameters and schedule make fail (each explained by
#: reports/repro/tfa_float32_hyperparameters.py)
ARITHMETIC = {
    "test_scalars_at_the_edges_of_their_domain_follow_the_exact_step",
    "test_parameter_groups_keep_their_own_hyperparameters",
    "test_weight_decay_follows_the_convention",
    "test_every_code_path_conforms[eager]",
    "test_every_code_path_conforms[function]",
    "test_tensors_of_every_size_and_shape_follow_the_exact_step[eager]",
    "test_tensors_of_every_size_and_shape_follow_the_exact_step[function]",
    "test_late_steps_with_r_t_near_one_match_the_exact_step",
    "test_one_step_from_its_own_state_matches_the_exact_step",
    "test_steps_around_the_threshold_follow_the_exact_branch",
    "test_trajectories_stay_within_the_global_bound"}


def check(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", SPEC,
                           "--profile", "quick", "--report", str(report), "-n", "0", *args],
                          capture_output=True, text=True, check=False, timeout=900)
    assert (report / "verdict.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads((report / "verdict.json").read_text())


def test_rectified_adam_is_driven_and_rejected_for_its_float32_scalars_while_its_state_round_trips(
    tmp_path: Path
) -> None:
    code, verdict = check(tmp_path, "--dtype", "float64", "--convention", CONVENTION)
    assert code == 1, verdict
    implementation = verdict["implementation"]
    assert isinstance(implementation, dict)
    assert (implementation["kind"], implementation["distribution"]) == ("keras", "tensorflow-addons")
    assert implementation["framework"].startswith("tensorflow 2.15")
    assert implementation["hyperparameter_keys"] == [
        "learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay"]
    assert implementation["state_layout"]["counter"] == "call"
    found = {p["property"]: p["outcome"] for p in verdict["properties"]}  # type: ignore[union-attr]
    failed = {p for p, o in found.items() if o == "failed"}
    assert failed <= ARITHMETIC
    assert failed >= {"test_trajectories_stay_within_the_global_bound",
                      "test_one_step_from_its_own_state_matches_the_exact_step"}
    for name in ("test_state_dict_round_trip_continues_exactly",
                 "test_step_leaves_gradients_and_hyperparameters_unchanged"):
        assert found[name] == "passed", name
    assert sorted(p for p, o in found.items() if o == "skipped") == [
        "test_a_loaded_state_dict_is_a_copy",
        "test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_format[eager]",
        "test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_format[function]",
        "test_adam_steps_with_eps_zero_do_not_depend_on_the_gradient_scale",  # Adam's
        "test_hyperparameters_set_between_steps_take_effect",  # set in torch groups only
        "test_lamb_step_of_each_tensor_has_norm_lr_phi",  # LAMB's
        "test_lamb_trust_ratio_with_a_zero_norm_follows_the_rule",  # LAMB's
        "test_lookahead_cycles_follow_the_exact_fast_and_slow_weights",  # no Lookahead
        "test_maximize_ascends_as_the_exact_step",
        "test_step_calls_its_closure_once_and_returns_its_loss",
        "test_strided_views_follow_the_exact_step_and_write_only_inside_them[eager]",
        "test_strided_views_follow_the_exact_step_and_write_only_inside_them[function]"]
    # every failure comes with a stand-alone script that shows it against TensorFlow (exit 1)
    failure = next(p["failure"] for p in verdict["properties"]  # type: ignore[union-attr]
                   if p["property"] == "test_trajectories_stay_within_the_global_bound")
    script = tmp_path / "report" / failure["script"]
    shown = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           check=False, timeout=300)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "DEVIATES" in shown.stdout


#: hyperparameters float32 represents exactly, where its float32 variables change nothing
EXACT_IN_FLOAT32 = [Hyper(lr=2.0**-8, beta1=0.875, beta2=1 - 2.0**-10, eps=2.0**-20,
                          weight_decay=0.25),
                    Hyper(lr=2.0**-5, beta1=0.5, beta2=0.75, eps=2.0**-10)]


@pytest.mark.parametrize("path", ["function", "eager"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_with_float32_exact_hyperparameters_groups_decay_and_injection_follow_the_exact_step(
    dtype: str, path: str
) -> None:
    """With hyperparameters float32 represents exactly, and a few steps from an injected
    late state (where the schedule is far from the threshold), RectifiedAdam is close to
    exact: every group's optimizer has its own lr, betas, eps and decoupled decay."""
    adapter = load_adapter(SPEC, dtype=dtype)
    convention = parse_convention(CONVENTION)
    thetas = [np.array([0.5, -2.0, 3.0]), np.array([[1.0, 0.25]])]
    instance = adapter.open([GroupSpec(h, (th,)) for h, th in
                             zip(EXACT_IN_FLOAT32, thetas, strict=True)], path)
    start = [ParamState(thetas[0], np.array([0.125, -0.5, 0.25]), np.array([0.25, 0.5, 0.125]), 400),
             ParamState(thetas[1], np.array([0.0, 0.5]), np.array([0.0625, 0.25]), 50)]
    instance.inject([[s] for s in start])
    rng = np.random.default_rng(7)
    grads = [[rng.uniform(-1, 1, th.shape) for th in thetas] for _ in range(4)]
    for step in grads:
        instance.step([[g] for g in step])
    held = instance.read()
    for k, (hyper, state) in enumerate(zip(EXACT_IN_FLOAT32, start, strict=True)):
        exact = exact_trajectory(state.theta.ravel(), [step[k].ravel() for step in grads], hyper,
                                 convention, start=ExactState.from_floats(
                                     state.theta.ravel(), state.m, state.v, state.t))[-1]
        assert held[k][0].t == state.t + len(grads)
        rtol = 1e-5 if dtype == "float32" else 1e-12
        for name, got, want in (("theta", held[k][0].theta, exact.theta),
                                ("m", held[k][0].m, exact.m), ("v", held[k][0].v, exact.v)):
            wanted = np.array([float(x) for x in want])
            assert np.allclose(got, wanted, rtol=rtol, atol=0), (k, name, got, wanted)


def test_a_state_injected_at_a_late_step_reads_back_as_injected_and_counts_calls() -> None:
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
    # one call per step: a tensor without a gradient keeps m and v while t advances
    instance.step([[np.array([0.1, 0.2, 0.3]), None]])
    held = instance.read()[0]
    assert [s.t for s in held] == [2001, 2001]
    assert np.array_equal(held[1].m, [0.25])
    assert np.array_equal(held[1].theta, [1.5])
    # no gradient at all: Keras refuses the call and a user makes none, so t stays
    instance.step([[None, None]])
    assert [s.t for s in instance.read()[0]] == [2001, 2001]


def test_a_tensor_first_stepped_later_starts_from_zero_moments_at_the_call_count() -> None:
    """Keras creates a variable's slots (zeros) on its first step; before, they read as zeros."""
    adapter = load_adapter(SPEC, dtype="float64")
    hyper = Hyper(lr=2.0**-6, beta1=0.5, beta2=0.75, eps=2.0**-10)
    thetas = (np.array([1.0, 2.0]), np.array([-1.0]))
    instance = adapter.open([GroupSpec(hyper, thetas)])
    instance.step([[np.array([0.5, 0.25]), None]])
    assert np.array_equal(instance.read()[0][1].m, [0.0])
    instance.step([[np.array([0.5, 0.25]), np.array([0.75])]])
    held = instance.read()[0][1]
    assert held.t == 2
    assert np.array_equal(held.m, [0.5 * 0.75])
    assert np.array_equal(held.v, [0.25 * 0.75**2])


def test_a_checkpointed_state_loads_into_a_fresh_optimizer_and_continues_bit_for_bit() -> None:
    adapter = load_adapter(SPEC, dtype="float32")
    groups = [GroupSpec(Hyper(lr=1e-2), (np.array([0.5, -1.0]), np.array([2.0])))]
    rng = np.random.default_rng(3)
    steps = [[[rng.normal(size=2), None if k == 0 else rng.normal(size=1)]] for k in range(6)]
    straight, saving = adapter.open(groups), adapter.open(groups)
    for step in steps[:3]:
        straight.step(step)
        saving.step(step)
    resumed = adapter.open([GroupSpec(groups[0].hyper, tuple(s.theta for s in saving.read()[0]))])
    resumed.load(saving.save())
    assert [s.t for s in resumed.read()[0]] == [3, 3]
    for step in steps[3:]:
        straight.step(step)
        resumed.step(step)
    for a, b in zip(resumed.read()[0], straight.read()[0], strict=True):
        for name in ("theta", "m", "v"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize(("args", "named"), [
    (["--kwargs", '{"beta_1": 0.5}'], "beta_1"),
    (["--dtype", "bfloat16"], "bfloat16"),
    (["--device", "cuda"], "cpu"),
])
def test_drawn_hyperparameters_other_dtypes_and_devices_are_one_line_usage_errors(
    args: list[str], named: str
) -> None:
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", SPEC, *args],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 4, done.stdout + done.stderr
    assert named in done.stderr
    assert "Traceback" not in done.stderr


def test_a_keras_optimizer_of_the_newer_api_is_a_usage_error_that_names_it() -> None:
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check",
                           "keras.optimizers:Adam"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "newer API" in done.stderr
    assert "Traceback" not in done.stderr


REPRO = Path(__file__).resolve().parents[1] / "reports" / "repro"
SCRIPTS = sorted({f.repro for c in CONFIGURATIONS if c.environment == "tensorflow"
                  for f in c.findings})


def test_the_matrix_has_tensorflow_rows_with_findings() -> None:
    assert SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_tensorflow_repro_script_of_the_matrix_shows_its_deviation(script: str) -> None:
    done = subprocess.run([sys.executable, str(REPRO / script)], capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEVIATION reproduced" in done.stdout
    assert "exact" in done.stdout
