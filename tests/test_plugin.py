"""The pytest plugin: options, one-line usage errors, verdicts, reports, xdist, reproduction.

Each test runs pytest in a fresh directory with ``pytester`` (no test files of its own),
exactly as a user does with ``pytest --verify-impl=...``.
"""

from __future__ import annotations

import json
from typing import Any

import forked
import numpy as np
import pytest

from radam_verify.conventions import PRESETS, parse_convention

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

REFERENCE = "radam_verify.impls:ReferenceRAdam"
#: the catalogue's correct base class: textbook binary64 coefficients
PROJECT = "radam_verify.impls.torch_radam:ConventionRAdam"


def run_suite(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run the packaged suite and return the result and its JSON verdict.

    In pytest's own process (-n 0; a later -n in ``args`` wins): the verdict does not depend
    on where the properties run, and a worker process per run would add its start-up to each
    (tests/test_watchdog.py and tests/test_cli.py run the default worker process). With the
    quick profile unless ``args`` name another: the expectations here are the quick profile's,
    whether or not the CI environment variable (which makes ci the default) is set. With
    plain asserts, as ``radam-verify check`` runs: the suite reports through its own
    messages, and rewriting every radam_verify module costs each run seconds."""
    report = pytester.path / "verdict.json"
    result = forked.runpytest(pytester, "-p", "no:cacheprovider", f"--verify-report={report}",
                              "-n", "0", "--verify-profile=quick", "--assert=plain", *args)
    verdict = json.loads(report.read_text()) if report.exists() else {}
    return result, verdict


def outcomes(verdict: dict[str, Any]) -> dict[str, str]:
    return {p["id"].split("/")[-1]: p["outcome"] for p in verdict["properties"]}


@pytest.mark.parametrize(("args", "message"), [
    (["--verify-impl=no_such_module:RAdam"], "cannot import module 'no_such_module'"),
    (["--verify-impl=torch.optim:NoSuchRAdam"], "has no attribute 'NoSuchRAdam'"),
    (["--verify-impl=torch.optim"], "expects MODULE:ATTR"),
    (["--verify-impl=json:dumps"], "is not an optimizer"),
    (["--verify-impl=math:pi"], "math:pi is not an optimizer (it is a float, 3.14159"),
    (["--verify-impl=torch.optim:RAdam", '--verify-kwargs={"lr": 0.01}'],
     "--verify-kwargs names lr"),
    (["--verify-impl=torch.optim:RAdam", "--verify-subnormals=sometimes"],
     "--verify-subnormals='sometimes': use platform"),
    (["--verify-impl=torch.optim:RAdam", '--verify-kwargs={"betas": [0.9, 0.99], "eps": 0}'],
     "--verify-kwargs names betas, eps"),
    (["--verify-impl=radam_verify.impls:ReferenceRAdam", '--verify-kwargs={"weight_decay": 0.1}'],
     "--verify-kwargs names weight_decay"),
    (["--verify-impl=optax:radam", '--verify-kwargs={"learning_rate": 0.1}'],
     "--verify-kwargs names learning_rate"),
    (["--verify-impl=torch.optim:RAdam", "--verify-convention=adam,threshold=4"],
     "'threshold' is RAdam's and does not apply to adam"),
    (["--verify-impl=torch.optim:RAdam", "--verify-convention=pytorch,eps=inside"],
     "unknown value 'inside' for axis 'eps'"),
    (["--verify-impl=torch.optim:RAdam", "--verify-kwargs={foreach: true}"], "not valid JSON"),
    (["--verify-impl=torch.optim:RAdam", "--verify-kwargs=[1]"], "must be a JSON object"),
    (["--verify-impl=torch.optim:RAdam", '--verify-kwargs={"nesterov": true}'],
     "cannot be constructed and stepped"),
    (["--verify-impl=torch.optim:RAdam", "--verify-device=tpu"], "is not a device"),
    (["--verify-impl=torch.optim:RAdam", "--verify-dtype=float8"],
     "bfloat16, float16, complex64 or complex128"),
    (["--verify-impl=optax:radam", "--verify-dtype=bfloat16"],
     "is verified for torch optimizers, Keras 3's and the plain protocol"),
    (["--verify-impl=torch.optim:RAdam", "--verify-profile=fast"], "quick, ci, thorough"),
    (["--verify-impl=torch.optim:RAdam", "--verify-schedule=exact"],
     "--verify-schedule='exact': use textbook"),
])
def test_bad_input_is_a_one_line_usage_error_with_exit_4(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.errlines
    assert message in errors[0]
    assert "Traceback" not in "\n".join(result.outlines + result.errlines)


def test_a_missing_cuda_device_is_a_usage_error(pytester: pytest.Pytester) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    result = pytester.runpytest_subprocess("--verify-impl=torch.optim:RAdam", "--verify-device=cuda")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --verify-device=cuda but this machine has no CUDA device*"])


def test_help_documents_every_option(pytester: pytest.Pytester) -> None:
    from radam_verify.suite.options import OPTIONS

    result = pytester.runpytest("--help")
    text = "\n".join(result.outlines)
    for flag in OPTIONS:
        assert flag in text


# Lookahead's presets are given, not identified (the probes do not look for slow weights):
# Ranger conforms with every property under its given reading below
@pytest.mark.parametrize("preset", [name for name, c in PRESETS.items() if not c.lookahead])
def test_the_reimplementation_of_each_preset_conforms(pytester: pytest.Pytester, preset: str) -> None:
    # the quick profile: every property for each preset (the ci profile's longer runs are
    # made on torch.optim.RAdam below and in the matrix)
    result, verdict = run_suite(pytester, f"--verify-impl={REFERENCE}",
                                f'--verify-kwargs={{"convention": "{preset}"}}',
                                "--verify-profile=quick")
    assert result.ret == pytest.ExitCode.OK, result.outlines[-30:]
    assert verdict["verdict"] == "conforms"
    assert verdict["convention"]["source"] == "identified"
    # the identified convention behaves as the preset (axes no probe separates may differ)
    identified = verdict["convention"]["identification"]
    assert identified["convention"] == preset


def test_the_header_names_implementation_version_convention_and_seed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--verify-impl=torch.optim:RAdam",
                                           "--verify-convention=pytorch", "--verify-seed=7", "--co")
    import torch

    result.stdout.fnmatch_lines([
        f"radam-verify: implementation torch.optim:RAdam (torch {torch.__version__}; torch adapter)*",
        "radam-verify: convention pytorch (given)*",
        "radam-verify: device cpu, dtype float32, profile *hypothesis seed 7",
        "radam-verify: each call into the implementation may take * s (50 x the slowest of its "
        "first calls (*), at least 10 s); the properties run *",
    ])


#: torch.optim.Optimizer.load_state_dict keeps the loaded tensors themselves, shared with the
#: optimizer they came from (reports/repro/torch_load_state_dict_shares_state.py)
SHARED_STATE = "test_state.py::test_a_loaded_state_dict_is_a_copy"


def test_torch_radam_conforms_except_foreach_with_eps_zero(pytester: pytest.Pytester) -> None:
    """torch's foreach path divides 0 by sqrt(0) + eps for every element, also on steps that
    are not rectified, so eps = 0 turns a zero-gradient element into NaN: the suite reports
    exactly that and the state a load_state_dict shares with its source, and accepts
    everything else (for-loop, differentiable, defaults). Three properties run the foreach
    path (code paths, shapes, views); each fails with the NaN when its few quick examples
    draw eps = 0 beside a zero gradient, at least one does, and none fails with anything
    else."""
    result, verdict = run_suite(pytester, "--verify-impl=torch.optim:RAdam")
    assert verdict["convention"]["spec"] == "pytorch"
    failed = {k for k, v in outcomes(verdict).items() if v == "failed"}
    foreach = {"test_paths.py::test_every_code_path_conforms[foreach]",
               "test_sizes.py::test_tensors_of_every_size_and_shape_follow_the_exact_step"
               "[foreach]", "test_views.py::test_strided_views_follow_the_exact_step_and_"
               "write_only_inside_them[foreach]"}
    assert SHARED_STATE in failed, result.outlines[-40:]
    mixed = ("test_groups.py::test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_"
             "format[foreach]")
    assert failed & foreach, result.outlines[-40:]
    assert failed <= foreach | {SHARED_STATE, mixed}, result.outlines[-40:]
    for failure in (p["failure"] for p in verdict["properties"] if p["outcome"] == "failed"
                    and "foreach" in p["id"]):
        assert failure["observed"] == "nan"  # strict JSON: NaN is written as a string
        eps = {g["hyper"]["eps"] for g in failure["hyper"]}
        # eps is 0, or (beside a float16 tensor) rounds to 0 in float16
        assert eps == {0.0} or (float(np.float16(eps.pop())) == 0.0 and any(
            "float16" in g.get("dtypes", []) for g in failure["hyper"])), failure
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_torch_radam_with_decoupled_weight_decay_and_for_loop_conforms(pytester: pytest.Pytester) -> None:
    result, verdict = run_suite(pytester, "--verify-impl=torch.optim:RAdam",
                                '--verify-kwargs={"decoupled_weight_decay": true, "foreach": false}',
                                "-k", "not foreach", "--verify-profile=quick")
    failed = {k for k, v in outcomes(verdict).items() if v == "failed"}
    assert failed == {SHARED_STATE}, result.outlines[-30:]
    assert verdict["convention"]["axes"]["weight_decay"] == "decoupled"
    assert outcomes(verdict)["test_groups.py::test_maximize_ascends_as_the_exact_step"] == "passed"


def test_xdist_gives_the_same_verdict_and_test_ids(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    # properties of each kind: trajectories, groups, state dicts, sizes per code path
    args = (f"--verify-impl={REFERENCE}", '--verify-kwargs={"convention": "official"}',
            "--verify-profile=quick", "-k", "trajectories or groups or state_dict or sizes")
    _, serial = run_suite(pytester, *args)
    _, parallel = run_suite(pytester, *args, "-n", "2")
    keys = ("outcome", "examples", "judged", "worst_ratio", "errors", "bounds", "result_ulps",
            "compared", "title", "checks")
    assert serial["verdict"] == parallel["verdict"] == "conforms"
    assert outcomes(serial) == outcomes(parallel)
    for a, b in zip(serial["properties"], parallel["properties"], strict=True):
        assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}


def test_a_deviation_shows_a_minimal_counterexample_and_a_reproduction_that_replays(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    result, verdict = run_suite(pytester, "--verify-impl=radam_verify.impls.defects:EpsInsideSqrt",
                                "--verify-convention=pytorch", "-k", "one_step")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = "\n".join(result.outlines)
    for piece in ("after step t=", "exact", "observed", "ulps, allowed", "reproduce with:",
                  "Failing test case"):
        assert piece in text
    failure = verdict["properties"][0]["failure"]
    assert failure["error_ulps"] > failure["bound_ulps"]
    from radam_verify.suite.repro import replay

    namespace: dict[str, Any] = {"replay": replay}
    exec(failure["reproduction"].splitlines()[1], namespace)  # the pasteable call
    assert "DEVIATES" in capsys.readouterr().out


@pytest.mark.parametrize("prop", ["tensors_of_every_size", "strided_views"])
def test_a_tail_defect_is_reported_on_the_smallest_tensor_that_shows_it(
        pytester: pytest.Pytester, prop: str) -> None:
    """A defect of a 16-lane kernel's scalar tail (``TailWithoutRectifier``: tensors of
    more than 16 elements, not a multiple of 16) is first met by the designed example's
    tensors of 17, 1000 and 4097 elements; its counterexample is the smallest of them
    alone, at the tail's first element: one tensor of shape (17,), theta[16]."""
    from radam_verify.impls.defects import TailWithoutRectifier

    lanes = TailWithoutRectifier.LANES
    _, verdict = run_suite(pytester, f"--verify-impl={TailWithoutRectifier.spec()}",
                           "--verify-convention=pytorch", "-k", prop)
    (found,) = [p["failure"] for p in verdict["properties"] if p["outcome"] == "failed"]
    assert f"1 tensor of shape ({lanes + 1},)" in found["sentence"]
    assert (int(found["tensor"]), int(found["index"])) == (0, lanes)


BREAKS_AT_STEP_FOUR = """
    from radam_verify.impls import ReferenceRAdam

    class BreaksAtStepFour(ReferenceRAdam):
        def step(self, state, grad):
            if state.t == 3:
                raise RuntimeError("kernel launch failed")
            return super().step(state, grad)
"""


def test_an_exception_inside_the_implementation_is_a_failed_property(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(flaky_impl=BREAKS_AT_STEP_FOUR)
    pytester.syspathinsert()
    result, verdict = run_suite(pytester, "--verify-impl=flaky_impl:BreaksAtStepFour",
                                "--verify-convention=pytorch", "-k", "trajectories")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    failure = verdict["properties"][0]["failure"]
    assert failure["quantity"] == "exception"
    assert failure["exception"] == "RuntimeError: kernel launch failed (in step(state, grad))"


def test_an_implementation_that_raises_on_a_probe_cannot_be_identified_a_usage_error(
    pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(flaky_impl=BREAKS_AT_STEP_FOUR)
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           "--verify-impl=flaky_impl:BreaksAtStepFour")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert "on the probe 'early steps' the implementation raised RuntimeError" in errors[0]
    assert "--verify-convention" in errors[0]


#: complex128 is complex64's path with float64's arithmetic, both run here already
DTYPES = ("float32", "float64", "complex64")


@pytest.mark.parametrize(("spec", "kwargs", "dtype"), [
    *(pytest.param("torch.optim:RAdam", {"foreach": False}, dtype, id=f"torch-for-loop-{dtype}")
      for dtype in DTYPES),
    # the catalogue's correct base class (in float32 every defect's script also runs on it,
    # tests/test_catalogue.py)
    pytest.param("radam_verify.impls.torch_radam:ConventionRAdam", {}, "float64",
                 id="project-torch-radam-float64"),
])
def test_torch_for_loop_radam_conforms_in_every_dtype_with_every_property(
    pytester: pytest.Pytester, spec: str, kwargs: dict[str, object], dtype: str
) -> None:
    """float64 and complex128 state is read as a copy: a reader that kept a view of the
    tensor's memory saw every earlier state move with the next in-place step."""
    conforms_with_every_property(pytester, spec, kwargs, dtype)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_for_loop_radam_conforms_in_bfloat16_and_float16_with_every_property(
        pytester: pytest.Pytester, dtype: str) -> None:
    """Judged with the format's error model (an operation in binary32, rounded to the
    format), the convention identified in float32; every property judges examples."""
    conforms_with_every_property(pytester, "torch.optim:RAdam", {"foreach": False}, dtype,
                                 "auto")


def test_kahan_compensated_bfloat16_updates_are_judged_by_the_formats_bound(
        pytester: pytest.Pytester) -> None:
    """torch-optimi steps bfloat16 parameters with Kahan-compensated updates by default; the
    format's bound accepts that arithmetic without reading the compensation
    (derivations/error-model.md, section 9), so the verdict shows only what is not
    arithmetic: the scratch use of p.grad and the state a loaded state dict shares."""
    result, verdict = run_suite(pytester, "--verify-impl=optimi:RAdam",
                                '--verify-kwargs={"foreach": false, "triton": false}',
                                "--verify-dtype=bfloat16")
    failed = {k for k, v in outcomes(verdict).items() if v == "failed"}
    assert failed == {SHARED_STATE, "test_state.py::test_step_leaves_gradients_and_"
                      "hyperparameters_unchanged"}, result.outlines[-30:]
    judged = [p for p in verdict["properties"] if p["outcome"] == "passed" and p["judged"]]
    assert len(judged) >= 10
    # the compensated update wrote p.grad (shrunk to no weight decay: not L2's in-place add)
    (scratch,) = [p["failure"] for p in verdict["properties"]
                  if p["property"] == "test_step_leaves_gradients_and_hyperparameters_unchanged"]
    assert {g["hyper"]["weight_decay"] for g in scratch["case"]["scenario"]["groups"]} == {0.0}


@pytest.mark.parametrize(("spec", "dtype"), [
    *(pytest.param("radam_verify.impls.variants:ChunkedRAdam", dtype, id=f"chunked-{dtype}")
      for dtype in ("float32", "float64", "bfloat16", "float16")),
    *(pytest.param("radam_verify.impls.variants:Float32MomentsRAdam", dtype,
                   id=f"float32-moments-{dtype}") for dtype in ("bfloat16", "float16")),
])
def test_implementations_that_compute_differently_but_correctly_conform(
        pytester: pytest.Pytester, spec: str, dtype: str) -> None:
    """Tensors stepped in chunks of 1000 elements (through a contiguous copy where they are
    strided views), and float32 moments with the update in float32 for bfloat16 and float16
    parameters, are correct: every property accepts them."""
    conforms_with_every_property(pytester, spec, {}, dtype)


#: the threshold property, which Adam skips (it has none), and Adam's scale invariance,
#: which RAdam skips
THRESHOLD = "test_steps.py::test_steps_around_the_threshold_follow_the_exact_branch"
SCALE = "test_family.py::test_adam_steps_with_eps_zero_do_not_depend_on_the_gradient_scale"
#: Lookahead's cycles, skipped for a reading without Lookahead
LOOKAHEAD = "test_family.py::test_lookahead_cycles_follow_the_exact_fast_and_slow_weights"
DECAY = "test_groups.py::test_weight_decay_follows_the_convention"
#: hyperparameters set between steps, skipped where the adapter cannot set them (a wrapper)
RETUNE = "test_groups.py::test_hyperparameters_set_between_steps_take_effect"
#: LAMB's layers and zero norms, skipped for readings that are not LAMB's
LAMB = ("test_family.py::test_lamb_step_of_each_tensor_has_norm_lr_phi",
        "test_family.py::test_lamb_trust_ratio_with_a_zero_norm_follows_the_rule")


@pytest.mark.parametrize(("spec", "kwargs", "convention", "dtype"), [
    pytest.param("torch.optim:Adam", {"foreach": False}, "adam", "float32", id="torch-adam"),
    pytest.param("torch.optim:AdamW", {"foreach": False}, "adamw", "float64", id="torch-adamw"),
    pytest.param("radam_verify.impls.adam_defects:ConventionAdam", {"convention": "keras-adam"},
                 "keras-adam", "float32", id="keras-reading"),
    pytest.param("radam_verify.impls.variants:ChunkedRAdam", {"convention": "adamw"}, "adamw",
                 "bfloat16", id="chunked-adamw-bfloat16"),
    # the per-step scalars in binary32 from binary32 betas: a reading, judged as one
    pytest.param("radam_verify.impls.adam_defects:ConventionAdam",
                 {"convention": "adamw,scalars=float32"}, "adamw,scalars=float32", "float64",
                 id="adamw-float32-scalars-float64"),
    pytest.param("radam_verify.impls.torch_radam:ConventionRAdam",
                 {"convention": "pytorch,scalars=float32"}, "pytorch,scalars=float32",
                 "float32", id="radam-float32-scalars"),
    # AMSGrad: torch's running maximum of v (its max_exp_avg_sq read and injected), and
    # optax's maximum of v_hat in the project's reimplementation, with AdamW's decay
    pytest.param("torch.optim:Adam", {"foreach": False, "amsgrad": True}, "amsgrad", "float64",
                 id="torch-amsgrad"),
    pytest.param("radam_verify.impls.adam_defects:ConventionAMSGrad",
                 {"convention": "optax-amsgrad,weight_decay=decoupled"},
                 "optax-amsgrad,weight_decay=decoupled", "float32", id="amsgrad-max-of-v-hat"),
    # a constant inside the root: optax's eps_root on v_hat (float32), and beside the raw
    # moments with the step scaled by sqrt(1 - beta2^t) (apex's eps_inside_sqrt kernels)
    pytest.param("radam_verify.impls.adam_defects:ConventionRootedAdam", {},
                 "optax-adam,eps_root=1e-06", "float32", id="adam-eps-root"),
    pytest.param("radam_verify.impls.torch_radam:ConventionRAdam",
                 {"convention": "pytorch,eps_root=1e-09"}, "pytorch,eps_root=1e-09", "float64",
                 id="radam-eps-root-raw"),
    # optax.amsgrad(bias_correction_mu=False): only v divided by 1 - b2^t
    pytest.param("radam_verify.impls.adam_defects:ConventionAMSGrad",
                 {"convention": "optax-amsgrad,bias_correction=v"},
                 "optax-amsgrad,bias_correction=v", "float64", id="amsgrad-only-v-corrected"),
    # the AMSGrad paper's Algorithm 2: raw moments, no bias correction
    pytest.param("radam_verify.impls.adam_defects:ConventionAMSGrad",
                 {"convention": "amsgrad-paper"}, "amsgrad-paper", "float32",
                 id="amsgrad-paper"),
    # Lookahead: Ranger (over RAdam, slow weights from theta_0), and over AdamW with the slow
    # weights started at the first sync (timm's reading) and after the first step
    pytest.param("radam_verify.impls.lookahead_defects:ConventionRanger", {}, "ranger",
                 "float64", id="ranger"),
    pytest.param("radam_verify.impls.torch_radam:ConventionRAdam",
                 {"convention": "adamw,lookahead_k=4,lookahead_alpha=0.8,"
                                "lookahead_start=first-sync"},
                 "adamw,lookahead_k=4,lookahead_alpha=0.8,lookahead_start=first-sync",
                 "float32", id="lookahead-first-sync"),
    pytest.param("radam_verify.impls.torch_radam:ConventionRAdam",
                 {"convention": "amsgrad,lookahead_k=3,lookahead_start=first-step"},
                 "amsgrad,lookahead_k=3,lookahead_start=first-step", "float32",
                 id="lookahead-first-step-over-amsgrad"),
    # Lookahead counted per group: timm's reading (tensors without a gradient passed over)
    # and torch-optimizer's (every tensor of the group synced, with a gradient or without)
    pytest.param("radam_verify.impls.torch_radam:ConventionRAdam",
                 {"convention": "pytorch,lookahead_k=3,lookahead_start=first-sync,"
                                "lookahead_count=group"},
                 "pytorch,lookahead_k=3,lookahead_start=first-sync,lookahead_count=group",
                 "float32", id="lookahead-counted-per-group"),
    pytest.param("radam_verify.impls.lookahead_defects:ConventionGroupLookahead", {},
                 "pytorch,lookahead_k=3,lookahead_start=first-step,lookahead_count=group-all",
                 "float64", id="lookahead-every-tensor-of-the-group"),
    # the bias corrections from running products of each step's betas (PaddlePaddle's
    # accumulators), advanced by binary64 multiplications
    pytest.param("radam_verify.impls.powers_defects:ConventionRunningPowers", {},
                 "pytorch,powers=running", "float64", id="running-powers"),
    # LAMB: the paper's reading, torch-optimizer's (no bias correction, phi clamped at 10) in
    # float64, and Keras' decoupled decay with timm's clip of the ratio and adaptation only
    # of decayed tensors
    pytest.param("radam_verify.impls.lamb_defects:ConventionLamb", {}, "lamb", "float32",
                 id="lamb"),
    pytest.param("radam_verify.impls.lamb_defects:ConventionLamb",
                 {"convention": "torch-optimizer-lamb"}, "torch-optimizer-lamb", "float64",
                 id="lamb-unbiased-clamped-float64"),
    pytest.param("radam_verify.impls.lamb_defects:ConventionLamb",
                 {"convention": "keras-lamb,trust_max=1,adapt=with-decay"},
                 "keras-lamb,trust_max=1,adapt=with-decay", "float32", id="lamb-clipped"),
    # every gradient of every group divided by max(1, ||G||) first (timm's max_grad_norm)
    pytest.param("radam_verify.impls.lamb_defects:ConventionClippedLamb", {},
                 "lamb,clip_norm=1", "float64", id="lamb-gradients-clipped-globally"),
])
def test_correct_adam_implementations_conform_with_every_property(
        pytester: pytest.Pytester, spec: str, kwargs: dict[str, object], convention: str,
        dtype: str) -> None:
    """torch's Adam and AdamW on the for-loop path, the Keras reading (eps beside sqrt(v)),
    AdamW stepped in chunks in bfloat16, scalars formed in binary32 (the textbook
    schedule in float32, from binary32 betas, for RAdam and AdamW), a constant inside the
    root (on v_hat, and on the raw v), AMSGrad with only v bias-corrected, AMSGrad's two
    maxima (torch's of v, optax's of v_hat) and its paper's raw moments, Lookahead's three
    starts of the slow weights (over RAdam, AdamW and AMSGrad) and its two counts per group,
    bias corrections from running powers of the betas, and LAMB's readings (the paper's,
    torch-optimizer's, Keras' with the ratio clipped, and with the gradients clipped
    globally): every property accepts them
    under their reading (torch's apart from the state a loaded state dict shares), and the
    threshold property does not apply to Adam."""
    conforms_with_every_property(pytester, spec, kwargs, dtype, convention)


def test_an_accurate_schedule_is_required_only_when_asked_and_the_textbook_allowance_is_shown(
        pytester: pytest.Pytester) -> None:
    """In float64 the textbook formulas (the catalogue's base class) take nearly the whole bound
    near b2 = 1: they conform by default, the verdict says how much of the bound their
    allowance took, and ``--verify-schedule=accurate`` rejects them, while a schedule
    evaluated in 80-digit decimal arithmetic and rounded once conforms there too."""
    result, verdict = run_suite(pytester, f"--verify-impl={PROJECT}", "--verify-convention=pytorch",
                                "--verify-dtype=float64")
    assert verdict["verdict"] == "conforms", result.outlines[-20:]
    assert verdict["schedule"] == "textbook"
    result.stdout.fnmatch_lines(["radam-verify: schedule: textbook: every legitimate binary64 *"])
    shares = [p["schedule_share"] for p in verdict["properties"] if p.get("judged")]
    assert all(0 <= share <= 1 for share in shares)
    assert max(shares) > 0.9  # near b2 = 1 the cancellation is nearly all of the bound
    # identified with the textbook allowance: how accurate a schedule is, is not a reading
    # (unshrunk: which cases fail, not their smallest form, is the claim)
    result, verdict = run_suite(pytester, f"--verify-impl={PROJECT}", "--verify-convention=auto",
                                "--verify-dtype=float64", "--verify-schedule=accurate",
                                "--verify-shrink=no")
    assert (verdict["convention"]["spec"], verdict["convention"]["source"]) == ("pytorch",
                                                                              "identified")
    assert verdict["verdict"] == "deviates"
    assert verdict["schedule"] == "accurate"
    failures = [p["failure"] for p in verdict["properties"] if p["outcome"] == "failed"]
    assert failures
    assert all(f["case"]["schedule"] == "accurate" for f in failures)  # replay judges the same
    result, verdict = run_suite(pytester, "--verify-impl=radam_verify.impls.variants:"
                                "AccurateScheduleRAdam", "--verify-convention=pytorch",
                                "--verify-dtype=float64", "--verify-schedule=accurate")
    assert verdict["verdict"] == "conforms", result.outlines[-20:]
    assert max(p["worst_ratio"] or 0 for p in verdict["properties"]) <= 1


def conforms_with_every_property(pytester: pytest.Pytester, spec: str,
                                 kwargs: dict[str, object], dtype: str,
                                 convention: str = "pytorch") -> None:
    result, verdict = run_suite(pytester, f"--verify-impl={spec}", f"--verify-kwargs={json.dumps(kwargs)}",
                                f"--verify-convention={convention}", f"--verify-dtype={dtype}",
                                "--verify-profile=quick")
    # torch's RAdam, identified (auto), is the pytorch preset
    expected = "pytorch" if convention == "auto" else convention
    assert verdict["convention"]["spec"] == expected
    # the project's own RAdam loads a copy of a state dict; torch's keeps its tensors
    known = {SHARED_STATE} if spec.startswith("torch.optim") else set()
    failed = {k for k, v in outcomes(verdict).items() if v == "failed"}
    assert failed == known, result.outlines[-30:]
    assert verdict["dtype"] == dtype
    skipped = {k for k, v in outcomes(verdict).items() if v == "skipped"}
    # one path chosen; complex parameters, stepped as pairs of reals, are neither placed as
    # views nor mixed with other dtypes; Adam has no threshold
    views = "test_views.py::test_strided_views_follow_the_exact_step_and_write_only_inside_them"
    mixed = "test_groups.py::test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_format"
    reading = parse_convention(expected)
    # (a torch Lookahead wrapper's groups are its inner optimizer's: the adapter says so)
    retunes = "retune" not in verdict["implementation"]["unsupported"]
    assert skipped == {"test_paths.py::test_every_code_path_conforms[default]",
                       *([f"{views}[default]", f"{mixed}[default]"] if dtype.startswith("complex")
                         else []),
                       THRESHOLD if reading.is_adam else SCALE,
                       *([] if reading.lookahead else [LOOKAHEAD]),
                       *([] if reading.is_lamb else LAMB),
                       *([DECAY] if reading.weight_decay == "none" else []),
                       *([] if retunes else [RETUNE])}
    bitwise = ("test_state_dict_round_trip", "test_step_leaves_gradients", "test_step_calls",
               "test_a_loaded_state_dict")  # compared, not judged
    judged = {p["property"]: p["judged"] for p in verdict["properties"]
              if p["outcome"] == "passed" and not p["property"].startswith(bitwise)}
    assert len(judged) == ((9 if dtype.startswith("complex") else 11) + reading.lookahead
                           + 2 * reading.is_lamb - (reading.weight_decay == "none") + retunes)
    assert min(judged.values()) > 0, judged


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("in_place", [False, True], ids=["new-arrays", "in-place"])
def test_the_reference_conforms_in_every_real_dtype_also_when_it_steps_in_place(
    pytester: pytest.Pytester, dtype: str, in_place: bool
) -> None:
    kwargs = json.dumps({"convention": "pytorch", "in_place": in_place})
    result, verdict = run_suite(pytester, f"--verify-impl={REFERENCE}", f"--verify-kwargs={kwargs}",
                                "--verify-convention=pytorch", f"--verify-dtype={dtype}",
                                "--verify-profile=quick")
    assert result.ret == pytest.ExitCode.OK, result.outlines[-30:]
    assert verdict["verdict"] == "conforms"
    assert verdict["counts"]["passed"] >= 9


def test_an_error_inside_the_suite_is_an_internal_error_with_exit_3_not_a_failed_property(
    pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(broken_judge="""
        import radam_verify.suite.scenario as scenario

        def judge_trajectory(*args, **kwargs):
            raise RuntimeError("the judge broke")

        scenario.judge_trajectory = judge_trajectory
    """)
    pytester.syspathinsert()
    result, verdict = run_suite(pytester, "-p", "broken_judge", f"--verify-impl={REFERENCE}",
                                "--verify-convention=pytorch", "-k", "trajectories", "-rE")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    assert verdict["verdict"] == "error"
    assert verdict["counts"]["error"] == 1
    (prop,) = verdict["properties"]
    assert prop["outcome"] == "error"
    assert "failure" not in prop
    assert prop["internal_error"]["exception"] == "RuntimeError: the judge broke"
    assert "in judge_trajectory" in prop["internal_error"]["traceback"]
    text = "\n".join(result.outlines)
    assert "the implementation raised" not in text
    result.stdout.fnmatch_lines(["*ERROR at call of test_trajectories_stay_within_the_global_bound*",
                                 "radam-verify: INTERNAL ERROR of radam-verify in test_trajectories*",
                                 "ERROR test_steps.py::test_trajectories_stay_within_the_global_bound*",
                                 "*1 error*"])


def test_options_can_be_set_in_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"""
        [pytest]
        verify_impl = {REFERENCE}
        verify_kwargs = {{"convention": "optax"}}
        verify_convention = optax
        verify_profile = quick
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "one_step")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["radam-verify: convention optax (given)*", "*1 passed*"])


def test_the_json_verdict_has_the_documented_fields(pytester: pytest.Pytester) -> None:
    _, verdict = run_suite(pytester, f"--verify-impl={REFERENCE}", "-k", "trajectories")
    assert verdict["schema"] == "radam-verify/conformance/1"
    for key in ("implementation", "convention", "device", "dtype", "profile", "seed", "units",
                "verdict", "properties", "timing", "platform"):
        assert key in verdict
    # the plain protocol is not probed: its arithmetic is the implementation's own
    assert verdict["platform"] == {"flushes_subnormals": None, "subnormals": "ieee"}
    prop = verdict["properties"][0]
    assert prop["examples"] >= prop["judged"] > 0
    assert 0.0 <= prop["worst_ratio"] <= 1.0
    assert len(prop["errors"]) == len(prop["bounds"]) == len(prop["result_ulps"]) == prop["judged"]
    assert prop["title"] == "Trajectories stay within the global bound"


def test_cuda_paths_conform_when_a_gpu_is_present(pytester: pytest.Pytester) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    result, verdict = run_suite(pytester, "--verify-impl=torch.optim:RAdam", "--verify-device=cuda")
    assert verdict["device"].startswith("cuda")
    assert "test_every_code_path_conforms[capturable]" in "".join(outcomes(verdict))
    del result
