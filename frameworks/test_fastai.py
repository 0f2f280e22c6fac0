"""The fastai adapter against fastai itself: fastai.optimizer.RAdam is identified and its
arithmetic conforms in float32 and float64; its load_state_dict shares the loaded state with
its source, and its L2 variant is rejected for changing the caller's gradient."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from radam_verify.adapters import GroupSpec, ParamState, load_adapter
from radam_verify.hyper import Hyper
from radam_verify.matrix.configurations import CONFIGURATIONS

SPEC = "fastai.optimizer:RAdam"


def check(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    report = tmp_path / "report"
    # in this process (-n 0): the verdict does not depend on where the properties run
    done = subprocess.run([sys.executable, "-m", "radam_verify.cli", "check", SPEC,
                           "--profile", "quick", "--report", str(report), "-n", "0", *args],
                          capture_output=True, text=True, check=False, timeout=900)
    assert (report / "verdict.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads((report / "verdict.json").read_text())


def outcomes(verdict: dict[str, object]) -> dict[str, str]:
    properties = verdict["properties"]
    assert isinstance(properties, list)
    return {p["property"]: p["outcome"] for p in properties}


def test_fastai_radam_is_identified_and_conforms_except_for_its_shared_loaded_state(
    tmp_path: Path
) -> None:
    """In float64 (the matrix's float32 rows show the same; the injection test below runs
    both dtypes)."""
    code, verdict = check(tmp_path, "--dtype", "float64")
    assert code == 1, verdict
    implementation = verdict["implementation"]
    assert isinstance(implementation, dict)
    assert (implementation["kind"], implementation["distribution"]) == ("fastai", "fastai")
    assert implementation["hyperparameter_keys"] == ["lr", "mom", "sqr_mom", "eps", "wd"]
    convention = verdict["convention"]
    assert isinstance(convention, dict)
    axes = convention["axes"]
    # fastai's radam_step: r > 5, an SGD step below, eps on sqrt(sqr_avg / debias2),
    # and decouple_wd=True multiplies p by 1 - lr * wd
    assert {k: axes[k] for k in ("threshold", "below", "eps", "weight_decay")} == {
        "threshold": 5.0, "below": "sgd", "eps": "hat", "weight_decay": "decoupled"}
    found = outcomes(verdict)
    # Optimizer.step raises NotImplementedError for a closure; fastai has no maximize
    assert sorted(p for p, o in found.items() if o == "skipped") == [
        "test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_format[default]",
        "test_adam_steps_with_eps_zero_do_not_depend_on_the_gradient_scale",  # Adam's
        "test_every_code_path_conforms[default]",
        "test_lamb_step_of_each_tensor_has_norm_lr_phi",  # LAMB's
        "test_lamb_trust_ratio_with_a_zero_norm_follows_the_rule",  # LAMB's
        "test_lookahead_cycles_follow_the_exact_fast_and_slow_weights",  # no Lookahead
        "test_maximize_ascends_as_the_exact_step",
        "test_step_calls_its_closure_once_and_returns_its_loss",
        "test_strided_views_follow_the_exact_step_and_write_only_inside_them[default]"]
    # load_state_dict assigns the loaded hypers and states themselves (fastai_load_state_dict_
    # shares_state.py): the one failure
    assert [p for p, o in found.items() if o == "failed"] == ["test_a_loaded_state_dict_is_a_copy"]
    failure = next(p["failure"] for p in verdict["properties"]  # type: ignore[union-attr]
                   if p["property"] == "test_a_loaded_state_dict_is_a_copy")
    shown = subprocess.run([sys.executable, str(tmp_path / "report" / failure["script"])],
                           capture_output=True, text=True, check=False, timeout=300)
    assert shown.returncode == 1, shown.stdout + shown.stderr  # its script shows it
    assert "DEVIATES" in shown.stdout
    # the other properties pass, tensors of every shape on its single path included
    assert found["test_tensors_of_every_size_and_shape_follow_the_exact_step[default]"] == "passed"
    # hyperparameters set with set_hyper between steps, as fit_one_cycle sets lr and mom
    # every batch, take effect on the next step
    assert found["test_hyperparameters_set_between_steps_take_effect"] == "passed"
    assert sum(o == "passed" for o in found.values()) == 11


def test_fastai_l2_weight_decay_is_rejected_for_changing_the_callers_gradient(tmp_path: Path) -> None:
    code, verdict = check(tmp_path, "--kwargs", json.dumps({"decouple_wd": False}))
    assert code == 1
    failed = {p["property"]: p["failure"] for p in verdict["properties"]  # type: ignore[union-attr]
              if p["outcome"] == "failed"}
    assert sorted(failed) == ["test_a_loaded_state_dict_is_a_copy",
                              "test_step_leaves_gradients_and_hyperparameters_unchanged"]
    assert failed["test_step_leaves_gradients_and_hyperparameters_unchanged"]["quantity"] == "gradient"


def test_each_group_gets_its_own_hyperparameters_through_set_hyper() -> None:
    adapter = load_adapter(SPEC)
    groups = [GroupSpec(Hyper(lr=1e-3, beta1=0.8, eps=1e-7, weight_decay=0.1), (np.ones(2),)),
              GroupSpec(Hyper(lr=5e-2, beta2=0.95, weight_decay=0.0), (np.zeros(3),))]
    instance = adapter.open(groups)
    held = instance.hyperparameters()
    assert [(h["lr"], h["mom"], h["sqr_mom"], h["eps"], h["wd"]) for h in held] == [
        (1e-3, 0.8, 0.999, 1e-7, 0.1), (5e-2, 0.9, 0.95, 1e-8, 0.0)]


def test_hyperparameters_set_between_steps_go_to_their_groups_through_set_hyper() -> None:
    """A schedule's values for the first group; the second keeps its own."""
    adapter = load_adapter(SPEC)
    groups = [GroupSpec(Hyper(lr=1e-3, weight_decay=0.1), (np.ones(2),)),
              GroupSpec(Hyper(lr=5e-2, beta2=0.95), (np.zeros(3),))]
    instance = adapter.open(groups)
    instance.retune([Hyper(lr=2e-3, beta1=0.85, beta2=0.99, eps=1e-6, weight_decay=0.2)])
    held = instance.hyperparameters()
    assert [(h["lr"], h["mom"], h["sqr_mom"], h["eps"], h["wd"]) for h in held] == [
        (2e-3, 0.85, 0.99, 1e-6, 0.2), (5e-2, 0.9, 0.95, 1e-8, 0.0)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_fastai_state_injected_at_a_late_step_reads_back_as_injected(dtype: str) -> None:
    adapter = load_adapter(SPEC, dtype=dtype)
    assert adapter.capabilities.inject_state
    theta = np.array([0.5, -2.0, 3.0])
    instance = adapter.open([GroupSpec(Hyper(), (theta,))])
    wanted = ParamState(theta, np.array([1e-3, -2e-2, 0.5]), np.array([1e-6, 4e-4, 0.3]), 10**6)
    instance.inject([[wanted]])
    held = instance.read()[0][0]
    for got, want in ((held.theta, wanted.theta), (held.m, wanted.m), (held.v, wanted.v)):
        assert np.array_equal(got, adapter.to_format(want))
    assert held.t == 10**6
    instance.step([[np.array([0.1, 0.2, 0.3])]])
    assert instance.read()[0][0].t == 10**6 + 1


REPRO = Path(__file__).resolve().parents[1] / "reports" / "repro"
SCRIPTS = sorted({f.repro for c in CONFIGURATIONS if c.environment == "fastai" for f in c.findings})


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_fastai_repro_script_of_the_matrix_shows_its_deviation(script: str) -> None:
    """The matrix's fastai findings, each shown by its stand-alone script (exit 1)."""
    done = subprocess.run([sys.executable, str(REPRO / script)], capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEVIATION reproduced" in done.stdout
    assert "exact" in done.stdout


def test_a_defective_fastai_radam_is_rejected_and_its_script_shows_it(pytester: pytest.Pytester) -> None:
    """A factory annotated to return a fastai Optimizer is driven by the fastai adapter; one
    that rectifies from rho_t > 4 is rejected, and the verdict's stand-alone script exits 1
    on it and 0 on fastai's own RAdam."""
    pytester.makepyfile(threshold_four='''
        import math
        from functools import partial

        from fastai.optimizer import (Optimizer, average_grad, average_sqr_grad, debias,
                                      step_stat, weight_decay)


        def radam_step_4(p, lr, mom, step, sqr_mom, grad_avg, sqr_avg, eps, **kwargs):
            debias1 = debias(mom, 1 - mom, step)
            debias2 = debias(sqr_mom, 1 - sqr_mom, step)
            r_inf = 2 / (1 - sqr_mom) - 1
            r = r_inf - 2 * step * sqr_mom**step / (1 - sqr_mom**step)
            if r > 4:
                v = math.sqrt(max((r - 4) * (r - 2) * r_inf / ((r_inf - 4) * (r_inf - 2) * r), 0))
                denom = (sqr_avg / debias2).sqrt() + eps
                p.data.addcdiv_(grad_avg, denom, value=-lr * v / debias1)
            else:
                p.data.add_(grad_avg, alpha=-lr / debias1)


        def RAdam4(params, lr, mom=0.9, sqr_mom=0.99, eps=1e-5, wd=0.0) -> Optimizer:
            cbs = [weight_decay, partial(average_grad, dampening=True), average_sqr_grad,
                   step_stat, radam_step_4]
            return Optimizer(params, cbs, lr=lr, mom=mom, sqr_mom=sqr_mom, eps=eps, wd=wd)
    ''')
    report = pytester.path / "verdict.json"
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--verify-impl=threshold_four:RAdam4",
        "--verify-convention=paper,threshold=5,eps=hat,weight_decay=decoupled",
        "--verify-profile=quick", "-k", "trajectories", f"--verify-report={report}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.outlines[-20:]
    verdict = json.loads(report.read_text())
    assert verdict["implementation"]["kind"] == "fastai"
    failure = next(p["failure"] for p in verdict["properties"]
                   if p["property"] == "test_trajectories_stay_within_the_global_bound")
    script = pytester.path / failure["script"]
    shown = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           check=False, timeout=300, cwd=pytester.path,
                           env={**os.environ, "PYTHONPATH": str(pytester.path)})
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "DEVIATES" in shown.stdout
    fixed = subprocess.run([sys.executable, str(script), SPEC], capture_output=True, text=True,
                           check=False, timeout=300)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
