"""The Paddle adapter against PaddlePaddle itself: paddle.optimizer.RAdam is driven through
its own API (groups as dicts, L2Decay, state_dict/set_state_dict, hyperparameters set
between steps where Paddle reads them), its running-powers state is read and injected
exactly, it is identified with its betas held as binary32 numbers and its powers
multiplied by each step's betas, and its float32 kernel is rejected for the square root
of a subnormal v on its vectorised path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from radam_verify.adapters import GroupSpec, ParamState, load_adapter
from radam_verify.adapters.paddle_adapter import steps_from_powers
from radam_verify.conventions import parse_convention
from radam_verify.hyper import Hyper
from radam_verify.matrix.configurations import CONFIGURATIONS
from radam_verify.reference import ExactState, exact_trajectory

SPEC = "paddle.optimizer:RAdam"
#: importing paddle warns that its C++-extension builder finds no ccache (nothing here builds one)
pytestmark = pytest.mark.filterwarnings("ignore:No ccache found:UserWarning")


def check(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", SPEC,
                           "--profile", "quick", "--report", str(report), "-n", "0", *args],
                          capture_output=True, text=True, check=False, timeout=900)
    assert (report / "verdict.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads((report / "verdict.json").read_text())


#: skipped for Paddle: what its optimizers do not take, and other algorithms' properties
SKIPPED = [
    "test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_format[default]",
    "test_adam_steps_with_eps_zero_do_not_depend_on_the_gradient_scale",  # Adam's
    "test_every_code_path_conforms[default]",
    "test_lamb_step_of_each_tensor_has_norm_lr_phi",  # LAMB's
    "test_lamb_trust_ratio_with_a_zero_norm_follows_the_rule",  # LAMB's
    "test_lookahead_cycles_follow_the_exact_fast_and_slow_weights",  # no Lookahead
    "test_maximize_ascends_as_the_exact_step",
    "test_step_calls_its_closure_once_and_returns_its_loss",
    "test_strided_views_follow_the_exact_step_and_write_only_inside_them[default]"]


def test_paddle_radam_in_float64_is_identified_with_binary32_betas_and_running_powers(
    tmp_path: Path
) -> None:
    """float64: the kernel's float attributes hold beta1, beta2 and eps as binary32 numbers,
    and its accumulators multiply the powers by each step's betas; under that reading every
    property passes, a schedule that changes the betas between steps included, and its
    state, saved, reloaded and loaded in process, continues bit for bit."""
    code, verdict = check(tmp_path, "--dtype", "float64")
    assert code == 0, verdict
    convention = verdict["convention"]
    assert isinstance(convention, dict)
    assert (convention["spec"], convention["source"]) == (
        "pytorch,scalars=float32-betas,powers=running", "identified")
    implementation = verdict["implementation"]
    assert isinstance(implementation, dict)
    assert (implementation["kind"], implementation["distribution"]) == ("paddle", "paddlepaddle")
    assert implementation["hyperparameter_keys"] == [
        "learning_rate", "beta1", "beta2", "epsilon", "weight_decay"]
    assert implementation["state_layout"]["counter"] == "powers"
    found = {p["property"]: p["outcome"] for p in verdict["properties"]}  # type: ignore[union-attr]
    for name in ("test_hyperparameters_set_between_steps_take_effect",
                 "test_state_dict_round_trip_continues_exactly", "test_a_loaded_state_dict_is_a_copy",
                 "test_step_leaves_gradients_and_hyperparameters_unchanged"):
        assert found[name] == "passed", name
    assert sorted(p for p, o in found.items() if o == "skipped") == SKIPPED


def test_with_powers_of_the_current_betas_a_changed_beta_is_rejected_with_a_script(
    tmp_path: Path
) -> None:
    """The same kernel under the count's powers (b^t of the step's own betas): a schedule
    that changes a beta is rejected, and the failure's stand-alone script shows it against
    Paddle (exit 1)."""
    report = tmp_path / "verdict.json"
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                    "-W", "ignore:No ccache found:UserWarning", f"--verify-impl={SPEC}",
                    "--verify-dtype=float64", "--verify-convention=pytorch,scalars=float32-betas",
                    "--verify-profile=quick", f"--verify-report={report}", "-n", "0",
                    "-k", "test_hyperparameters_set_between_steps_take_effect"],
                   capture_output=True, text=True, check=False, timeout=900)
    verdict = json.loads(report.read_text())
    failed = [p for p in verdict["properties"] if p["outcome"] == "failed"]
    assert [p["property"] for p in failed] == ["test_hyperparameters_set_between_steps_take_effect"]
    shown = subprocess.run([sys.executable, str(tmp_path / failed[0]["failure"]["script"])],
                           capture_output=True, text=True, check=False, timeout=300)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "DEVIATES" in shown.stdout


def test_paddle_radam_in_float32_holds_every_hyperparameter_in_binary32() -> None:
    """float32: identified with every hyperparameter a binary32 number and running powers
    (the matrix row verifies it; its one deviation, the vectorised square root of a
    subnormal v, is paddle_float32_subnormal_sqrt.py's, run below)."""
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "identify", SPEC,
                           "--dtype", "float32", "--json"],
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    assert found["verify_against"] == "pytorch,scalars=float32-held,powers=running"
    assert any("changed betas" in line and "powers=running" in line for line in found["evidence"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_with_float32_exact_hyperparameters_groups_decay_and_injection_follow_the_exact_step(
    dtype: str
) -> None:
    """With betas, eps, lr and weight decay that float32 represents exactly, and few steps
    from an injected late state (where the schedule is far from the threshold), Paddle's
    kernel is close to exact: every group's own lr, betas, eps and L2 decay reach it."""
    adapter = load_adapter(SPEC, dtype=dtype)
    convention = parse_convention("pytorch")
    hypers = [Hyper(lr=2.0**-8, beta1=0.875, beta2=1 - 2.0**-10, eps=2.0**-20, weight_decay=0.25),
              Hyper(lr=2.0**-5, beta1=0.5, beta2=0.75, eps=2.0**-10)]
    thetas = [np.array([0.5, -2.0, 3.0]), np.array([1.0, 0.25])]
    instance = adapter.open([GroupSpec(h, (th,)) for h, th in zip(hypers, thetas, strict=True)])
    start = [ParamState(thetas[0], np.array([0.125, -0.5, 0.25]), np.array([0.25, 0.5, 0.125]), 400),
             ParamState(thetas[1], np.array([0.0, 0.5]), np.array([0.0625, 0.25]), 50)]
    instance.inject([[s] for s in start])
    rng = np.random.default_rng(7)
    grads = [[rng.uniform(-1, 1, th.size) for th in thetas] for _ in range(4)]
    for step in grads:
        instance.step([[g] for g in step])
    held = instance.read()
    for k, (hyper, state) in enumerate(zip(hypers, start, strict=True)):
        exact = exact_trajectory(state.theta, [step[k] for step in grads], hyper, convention,
                                 start=ExactState.from_floats(state.theta, state.m, state.v, state.t))[-1]
        assert held[k][0].t == state.t + len(grads)
        for name, got, want in (("theta", held[k][0].theta, exact.theta),
                                ("m", held[k][0].m, exact.m), ("v", held[k][0].v, exact.v)):
            wanted = np.array([float(x) for x in want])
            assert np.allclose(got, wanted, rtol=1e-5, atol=0), (k, name, got, wanted)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_state_injected_at_a_late_step_reads_back_as_injected(dtype: str) -> None:
    adapter = load_adapter(SPEC, dtype=dtype)
    theta = np.array([0.5, -2.0, 3.0])
    instance = adapter.open([GroupSpec(Hyper(beta1=0.99, beta2=0.99999), (theta,))])
    wanted = ParamState(theta, np.array([1e-3, -2e-2, 0.5]), np.array([1e-6, 4e-4, 0.3]), 2000)
    instance.inject([[wanted]])
    held = instance.read()[0][0]
    for got, want in ((held.theta, wanted.theta), (held.m, wanted.m), (held.v, wanted.v)):
        assert np.array_equal(got, adapter.to_format(want))
    assert held.t == 2000
    instance.step([[np.array([0.1, 0.2, 0.3])]])
    assert instance.read()[0][0].t == 2001
    # a tensor without a gradient keeps its powers, and so its step count
    instance.step([[None]])
    assert instance.read()[0][0].t == 2001


def kernel_schedule(beta1: float, beta2: float, t: int) -> tuple[float, float, float]:
    """b1^t, b2^t and rho as Paddle's float32 kernel accumulates them (float32 betas, one
    rounding per operation), by numpy."""
    f = np.float32
    b1, b2 = f(beta1), f(beta2)
    pow1 = pow2 = rho = f(1.0)
    for _ in range(t):
        pow1, pow2 = f(pow1 * b1), f(pow2 * b2)
        rho = f(f(f(rho * f(b2 - pow2)) + pow2) / f(f(1.0) - pow2))
    return float(pow1), float(pow2), float(rho)


@pytest.mark.parametrize(("beta1", "beta2", "t"), [(0.9, 0.999, 1), (0.9, 0.999, 7),
                                                    (0.0, 0.99999, 700), (0.999, 0.99999, 3000),
                                                    (0.5, 0.6, 60), (0.9, 0.0, 40)])
def test_the_step_count_is_read_from_the_accumulated_powers(beta1: float, beta2: float, t: int) -> None:
    pow1, pow2, rho = kernel_schedule(beta1, beta2, t)
    assert steps_from_powers(pow1, pow2, rho, beta1) == t


def test_no_step_count_is_read_where_every_power_has_underflowed() -> None:
    assert steps_from_powers(1.0, 1.0, 1.0, 0.9) == 0
    assert steps_from_powers(0.0, 0.0, 0.0, 0.9) is None


def test_each_group_is_given_as_a_paddle_user_writes_it() -> None:
    adapter = load_adapter(SPEC)
    groups = [GroupSpec(Hyper(lr=1e-3, beta1=0.8, eps=1e-7, weight_decay=0.1), (np.ones(2),)),
              GroupSpec(Hyper(lr=5e-2, beta2=0.95), (np.zeros(3),))]
    held = adapter.open(groups).hyperparameters()
    assert [(h["learning_rate"], h["beta1"], h["beta2"], h["epsilon"], h["weight_decay"])
            for h in held] == [(1e-3, 0.8, 0.999, 1e-7, 0.1), (5e-2, 0.9, 0.95, 1e-8, None)]


def test_drawn_hyperparameters_in_the_keywords_and_other_dtypes_are_usage_errors() -> None:
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", SPEC, "--kwargs",
                           '{"beta1": 0.5}'], capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 4
    assert "beta1" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", SPEC, "--dtype",
                           "bfloat16"], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 4
    assert "Traceback" not in done.stderr


REPRO = Path(__file__).resolve().parents[1] / "reports" / "repro"
SCRIPTS = sorted({f.repro for c in CONFIGURATIONS if c.environment == "paddle" for f in c.findings})


def test_the_matrix_has_paddle_rows_with_findings() -> None:
    assert SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_paddle_repro_script_of_the_matrix_shows_its_deviation(script: str) -> None:
    done = subprocess.run([sys.executable, str(REPRO / script)], capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEVIATION reproduced" in done.stdout
    assert "exact" in done.stdout
