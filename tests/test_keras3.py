"""The Keras adapter's Keras 3 path (keras.optimizers.Optimizer on any backend), against
Keras 3 itself: Keras 3 ships no RAdam, so the optimizers verified are RAdam written the
way a Keras user writes one (radam_verify/impls/keras3.py), one correct and one defective."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# the backend is chosen when keras is first imported (this worker imports it only here)
os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import forked  # noqa: E402

from radam_verify.adapters import GroupSpec, load_adapter  # noqa: E402
from radam_verify.adapters.base import ParamState  # noqa: E402
from radam_verify.conventions import parse_convention  # noqa: E402
from radam_verify.hyper import Hyper  # noqa: E402
from radam_verify.suite import checks  # noqa: E402
from radam_verify.suite.scenario import Scenario  # noqa: E402

CORRECT = "radam_verify.impls.keras3:KerasRAdam"
DEFECTIVE = "radam_verify.impls.keras3:KerasRAdamStaleStep"


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_correct_keras3_radam_conforms_through_keras_own_api_on_each_backend(
    backend: str, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", CORRECT,
                           "--profile", "quick", "--report", str(report), "-n", "0"],
                          capture_output=True, text=True, check=False, timeout=600,
                          env={**os.environ, "KERAS_BACKEND": backend})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    verdict = json.loads((report / "verdict.json").read_text())
    implementation = verdict["implementation"]
    assert implementation["kind"] == "keras"
    assert f", {backend} " in implementation["framework"]
    assert implementation["state_layout"]["counter"] == "call"
    found = {p["property"]: p["outcome"] for p in verdict["properties"]}
    for name in ("test_state_dict_round_trip_continues_exactly",
                 "test_parameter_groups_keep_their_own_hyperparameters",
                 "test_tensors_of_every_size_and_shape_follow_the_exact_step[eager]",
                 "test_steps_around_the_threshold_follow_the_exact_branch"):
        assert found[name] == "passed", name
    # the convention identified from its probes is its reading: threshold 5 with >, an SGD
    # step below, eps beside sqrt(v) (and, without weight decay, any decay reading)
    axes = verdict["convention"]["axes"]
    assert (axes["threshold"], axes["comparison"], axes["below"], axes["eps"]) == (5.0, ">", "sgd",
                                                                                  "raw")


def test_a_schedule_read_one_step_late_is_rejected() -> None:
    adapter = load_adapter(DEFECTIVE)
    hyper = Hyper(lr=1e-2, beta2=0.99)
    rng = np.random.default_rng(5)
    scenario = Scenario((GroupSpec(hyper, (rng.normal(size=5), rng.normal(size=(2, 3)))),),
                        tuple(((rng.normal(size=5), rng.normal(size=(2, 3))),) for _ in range(8)))
    outcome = checks.exact(adapter, scenario, parse_convention("pytorch"))
    assert not outcome.conforms
    assert load_adapter(CORRECT).capabilities.code_paths.keys() == {"eager"}
    assert checks.exact(load_adapter(CORRECT), scenario, parse_convention("pytorch")).conforms


def test_a_group_without_gradients_is_not_called_and_a_tensor_stepped_later_starts_from_zero() -> None:
    adapter = load_adapter(CORRECT, dtype="float64")
    instance = adapter.open([GroupSpec(Hyper(), (np.array([1.0, 2.0]), np.array(3.0)))])
    instance.step([[np.array([0.5, 0.5]), None]])
    instance.step([[None, None]])
    held = instance.read()[0]
    assert [s.t for s in held] == [1, 1]
    assert np.array_equal(held[1].m, [0.0])
    instance.step([[None, np.array(0.5)]])
    held = instance.read()[0]
    assert [s.t for s in held] == [2, 2]
    assert np.array_equal(held[1].m, [(1.0 - 0.9) * 0.5])  # its first step: (1 - beta1) g


def test_keras3_keeps_the_learning_rate_in_float32_for_float64_parameters() -> None:
    """Keras 3 holds the learning rate in a variable of its floatx, float32: a float64
    parameter's first step (an SGD step, m_hat = g) moves it by float32(lr) * g."""
    adapter = load_adapter(CORRECT, dtype="float64")
    lr = 1e-3
    instance = adapter.open([GroupSpec(Hyper(lr=lr), (np.array([1.0]),))])
    instance.step([[np.array([1.0])]])
    moved = 1.0 - float(instance.read()[0][0].theta[0])
    assert moved == pytest.approx(float(np.float32(lr)), rel=1e-15)
    assert abs(moved - lr) > 1e-12


@pytest.mark.parametrize("spec", ["keras.optimizers:AdamW", CORRECT])
def test_keras3_hyperparameters_set_between_steps_govern_the_next_step(spec: str) -> None:
    """Set on the live optimizer after its first step (learning_rate, beta_1, beta_2,
    epsilon and weight_decay, as a callback sets them), a group's hyperparameters govern its
    second step: bit for bit the step an optimizer built with them takes from the state
    after the first step, and not the step the old ones take."""
    before = Hyper(lr=0.01, beta2=0.999, weight_decay=0.01)
    after = Hyper(lr=0.003, beta1=0.5, beta2=0.9, eps=1e-6, weight_decay=0.1)
    theta = np.array([0.5, -2.0, 3.0])
    grads = [np.array([0.3, -2.0, 1e-3]), np.array([-0.7, 0.25, 4.0])]
    adapter = load_adapter(spec)
    assert adapter.capabilities.retune
    live = adapter.open([GroupSpec(before, (theta,))])
    live.step([[grads[0]]])
    first = live.read()[0][0]
    live.retune([after])
    live.step([[grads[1]]])
    seconds = []
    for hyper in (after, before):
        fresh = adapter.open([GroupSpec(hyper, (theta,))])
        fresh.inject([[first]])
        fresh.step([[grads[1]]])
        seconds.append(fresh.read()[0][0].theta)
    assert np.array_equal(live.read()[0][0].theta, seconds[0])
    assert not np.array_equal(seconds[0], seconds[1])


def test_a_keras_backend_that_is_not_installed_is_a_one_line_usage_error_naming_it() -> None:
    pytest.importorskip("torch")  # this environment's Keras runs on torch or jax, not tensorflow
    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("tensorflow is installed here: KERAS_BACKEND=tensorflow would load")
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", CORRECT],
                          capture_output=True, text=True, check=False, timeout=300,
                          env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert done.returncode == 4, done.stdout + done.stderr
    assert "KERAS_BACKEND=tensorflow" in done.stderr
    assert "Traceback" not in done.stderr


def _bfloat16(values: object) -> np.ndarray:
    """Values rounded to bfloat16, as float64."""
    from ml_dtypes import bfloat16

    return np.asarray(values, dtype=np.float32).astype(bfloat16).astype(np.float64)


def test_keras3_holds_an_injected_bfloat16_state_bit_for_bit() -> None:
    """bfloat16 variables and slots take an injected state and give it back unchanged (the
    adapter carries bfloat16 values as float32, exactly, on every backend)."""
    adapter = load_adapter("keras.optimizers:Adam", dtype="bfloat16")
    instance = adapter.open([GroupSpec(Hyper(), (_bfloat16([1.0, 2.0, 3.0]),))])
    state = ParamState(_bfloat16([0.1, -0.3, 7.0]), _bfloat16([1e-3, -2e-3, 0.5]),
                       _bfloat16([1e-6, 3e-4, 0.25]), 3)
    instance.inject([[state]])
    back = instance.read()[0][0]
    assert back.t == 3
    for got, want in ((back.theta, state.theta), (back.m, state.m), (back.v, state.v)):
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()


def test_keras3_adam_never_moves_bfloat16_parameters_at_the_default_beta2() -> None:
    """Keras 3's Adam forms its bias corrections from beta_2 cast to the variable's dtype:
    bfloat16 holds 0.999 as 1, so alpha = 0 and no step moves a parameter, where the exact
    step moves each by about lr; the suite rejects it, and accepts a correct Keras 3
    optimizer (scalars rounded once to bfloat16) on the same scenario. At beta_2 = 0.99
    (0.98828125 in bfloat16) its parameters move."""
    rng = np.random.default_rng(5)
    params = (_bfloat16(rng.normal(size=5)), _bfloat16(rng.normal(size=(2, 3))))
    grads = tuple(((_bfloat16(rng.normal(size=5)), _bfloat16(rng.normal(size=(2, 3)))),)
                  for _ in range(8))
    for beta2, moves in ((0.999, False), (0.99, True)):
        hyper = Hyper(lr=0.1, beta2=beta2)
        instance = load_adapter("keras.optimizers:Adam", dtype="bfloat16").open(
            [GroupSpec(hyper, params)])
        for step in grads:
            instance.step([list(step[0])])
        held = instance.read()[0]
        assert any(not np.array_equal(s.theta, np.ravel(p)) for s, p in zip(
            held, params, strict=True)) is moves
    scenario = Scenario((GroupSpec(Hyper(lr=0.1), params),), grads)
    adam = checks.exact(load_adapter("keras.optimizers:Adam", dtype="bfloat16"), scenario,
                        parse_convention("keras-adam,scalars=float32"))
    assert not adam.conforms
    correct = checks.exact(load_adapter(CORRECT, dtype="bfloat16"), scenario,
                           parse_convention("pytorch"))
    assert correct.conforms


def test_a_keras3_script_shows_the_bfloat16_deviation_without_radam_verify(
        tmp_path: Path) -> None:
    """The stand-alone script a Keras 3 failure writes drives Keras 3 alone (on the backend
    the verdict ran on, bfloat16 carried as float32), prints the exact value radam-verify
    computed and exits 1 while the deviation is there."""
    from radam_verify.suite.profiles import PROFILES
    from radam_verify.suite.standalone import script_for
    from radam_verify.suite.target import DeviationError, Record, Target, require_conforms

    target = Target(load_adapter("keras.optimizers:Adam", dtype="bfloat16"),
                    parse_convention("keras-adam,scalars=float32"), "given",
                    PROFILES["quick"], 0)
    rng = np.random.default_rng(5)
    scenario = Scenario((GroupSpec(Hyper(lr=0.1), (_bfloat16(rng.normal(size=5)),)),),
                        tuple(((_bfloat16(rng.normal(size=5)),),) for _ in range(3)))
    outcome = checks.exact(target.adapter, scenario, target.convention)
    with pytest.raises(DeviationError) as raised:
        require_conforms(target, "trajectory", scenario, outcome, Record())
    text = script_for(target.adapter, {"id": "test_x.py::test_trajectory",
                                       "property": "test_trajectory", "title": "trajectory",
                                       "outcome": "failed", "failure": raised.value.details})
    assert text is not None
    assert "import keras" in text
    assert "tensorflow" not in text
    script = tmp_path / "repro.py"
    script.write_text(text)
    blocked = ("import runpy, sys; sys.modules['radam_verify'] = None; sys.argv = sys.argv[1:]; "
               "runpy.run_path(sys.argv[0], run_name='__main__')")
    shown = forked.run([sys.executable, "-c", blocked, str(script)], timeout=300,
                       env={k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"})
    assert shown.returncode == 1, shown.stdout[-2000:] + shown.stderr[-2000:]
    assert raised.value.details["exact"] in shown.stdout
    assert "DEVIATES" in shown.stdout


def test_keras3_adamw_on_float64_is_the_reading_with_lr_alone_held_in_binary32(
        tmp_path: Path) -> None:
    """On the jax backend with JAX's x64 mode (as a float64 user runs it), Keras 3's AdamW
    forms every scalar in float64 from lr as its float32 variable holds it: identify names
    ``scalars=float32-lr`` (binary32 scalars reproduce the probes too, binary64 ones with lr
    as given do not), and the one-step and weight-decay properties accept it."""
    report = tmp_path / "verdict.json"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--verify-impl=keras.optimizers:AdamW", "--verify-dtype=float64",
                           "--verify-profile=quick", f"--verify-report={report}",
                           "-k", "one_step or weight_decay"],
                          capture_output=True, text=True, check=False, timeout=600,
                          cwd=tmp_path, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    verdict = json.loads(report.read_text())
    assert verdict["convention"]["spec"] == "keras-adam,scalars=float32-lr"
    found = {p["property"]: p["outcome"] for p in verdict["properties"]}
    assert found["test_one_step_from_its_own_state_matches_the_exact_step"] == "passed"
    assert found["test_weight_decay_follows_the_convention"] == "passed"
    assert done.returncode == 0, done.stdout[-3000:]
