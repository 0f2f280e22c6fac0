"""Stand-alone reproduction scripts: for every kind of check (exact values, a state_dict
round trip, inputs a step must leave alone, an exception) and every adapter that writes
them (torch in real and complex dtypes, the plain-object protocol), the script a failure
writes runs without radam-verify, exits 1 on the implementation that deviates and 0 on a
correct one, and prints the exact value radam-verify computed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import forked
import numpy as np
import pytest

from radam_verify.adapters import GroupSpec, ParamState, load_adapter
from radam_verify.conventions import parse_convention
from radam_verify.hyper import Hyper
from radam_verify.suite import checks
from radam_verify.suite.profiles import PROFILES
from radam_verify.suite.scenario import Scenario
from radam_verify.suite.standalone import script_for, write_scripts
from radam_verify.suite.target import DeviationError, Record, Target, calling, fail, require_conforms

CORRECT = "radam_verify.impls.torch_radam:ConventionRAdam"
IMPLS = '''
import torch
from radam_verify.impls.reference_radam import ReferenceRAdam
from radam_verify.impls.torch_radam import ConventionRAdam


class EpsOnVHat(ReferenceRAdam):
    """eps added to sqrt(v_hat), where the pytorch convention adds it to sqrt(v)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs, convention="pytorch,eps=hat")


class MovesAtZeroLearningRate(ReferenceRAdam):
    """Flushes a subnormal parameter to zero on every step, as a platform that flushes
    subnormals does: with lr = 0 the parameter still changes."""

    def step(self, state, grad):
        state = super().step(state, grad)
        state.theta[abs(state.theta) < 2.0**-1022] = 0.0
        return state


class RaisesOnStridedParameters(ConventionRAdam):
    """Refuses a parameter that is not contiguous, as a kernel that needs contiguous memory."""

    def step(self, closure=None):
        for group in self.param_groups:
            if not all(p.is_contiguous() for p in group["params"]):
                raise RuntimeError("expected a contiguous parameter")
        return super().step(closure)


class RaisesOnThirdStep(ConventionRAdam):
    def step(self, closure=None):
        self.__dict__["calls"] = self.__dict__.get("calls", 0) + 1
        if self.__dict__["calls"] == 3:
            raise RuntimeError("kernel launch failed")
        return super().step(closure)
'''


@pytest.fixture(scope="module")
def impls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("impls")
    (folder / "standalone_impls.py").write_text(IMPLS)
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))


def _target(spec: str, dtype: str = "float32", convention: str = "pytorch") -> Target:
    adapter = load_adapter(spec, {}, "cpu", dtype)
    return Target(adapter, parse_convention(convention), "given", PROFILES["quick"], 0)


def _scenario(hyper: Hyper, steps: int = 4, size: int = 5, seed: int = 1) -> Scenario:
    rng = np.random.default_rng(seed)
    params = (rng.normal(size=size), rng.normal(size=size + 2))
    grads = tuple(((rng.normal(size=size), rng.normal(size=size + 2)),) for _ in range(steps))
    return Scenario((GroupSpec(hyper, params),), grads)


def _property(target: Target, error: DeviationError, name: str) -> dict[str, Any]:
    return {"id": f"test_x.py::test_{name}", "property": f"test_{name}", "title": name,
            "outcome": "failed", "failure": error.details}


def _written(target: Target, prop: dict[str, Any], folder: Path) -> Path:
    import ast

    text = script_for(target.adapter, prop)
    assert text is not None
    tree = ast.parse(text)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {str(node.module) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"contextlib", "decimal", "importlib", "io", "math", "os", "pickle", "sys",
                        "traceback", "numpy", "torch", "jax", "optax", "keras"}
    path = folder / "repro.py"
    path.write_text(text)
    return path


def _run(script: Path, folder: Path, *args: str, without_radam_verify: bool = False
         ) -> subprocess.CompletedProcess[str]:
    """Run a script; ``without_radam_verify`` makes radam_verify unimportable (possible where
    the implementation does not live in it), showing that the script needs only its framework."""
    block = "sys.modules['radam_verify'] = None; " if without_radam_verify else ""
    runner = (f"import runpy, sys; sys.path.insert(0, {str(folder)!r}); sys.argv = sys.argv[1:]; "
              f"{block}runpy.run_path(sys.argv[0], run_name='__main__')")
    return forked.run([sys.executable, "-c", runner, str(script), *args], timeout=300)


def _deviation(target: Target, scenario: Scenario, check: dict[str, object] | None = None
               ) -> DeviationError:
    outcome = checks.exact(target.adapter, scenario, target.convention)
    with pytest.raises(DeviationError) as raised:
        require_conforms(target, "trajectory", scenario, outcome, Record())
    return raised.value


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
def test_a_torch_trajectory_script_shows_the_deviation_and_passes_the_correct_class(
        dtype: str, tmp_path: Path) -> None:
    target = _target("radam_verify.impls.defects:SwappedBetas", dtype)
    error = _deviation(target, _scenario(Hyper(beta1=0.9, beta2=0.99)))
    script = _written(target, _property(target, error, "trajectory"), tmp_path)
    shown = _run(script, tmp_path)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert error.details["exact"] in shown.stdout
    assert "DEVIATES" in shown.stdout
    fixed = _run(script, tmp_path, CORRECT)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    on_torch = _run(script, tmp_path, "torch.optim:RAdam", without_radam_verify=True)
    assert on_torch.returncode == 0, on_torch.stdout + on_torch.stderr


def test_a_protocol_script_drives_the_plain_object_api(impls: Path, tmp_path: Path) -> None:
    target = _target("standalone_impls:EpsOnVHat", "float64")
    error = _deviation(target, _scenario(Hyper(eps=0.5, beta2=0.99), steps=8))
    script = _written(target, _property(target, error, "trajectory"), tmp_path)
    assert "import torch" not in script.read_text()
    assert _run(script, impls).returncode == 1
    fixed = _run(script, impls, "radam_verify.impls:ReferenceRAdam")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_a_reload_script_compares_the_resumed_run_bit_for_bit(tmp_path: Path) -> None:
    target = _target("radam_verify.impls.defects:StateOutsideStateDict")
    scenario = _scenario(Hyper(), steps=5)
    found = checks.reload(target.adapter, scenario, 2)
    assert found is not None
    check: dict[str, object] = {"kind": "reload", "save_at": 2}
    error = fail(target, "state_dict round trip", scenario, str(found),
                 {"quantity": found.quantity}, check)
    script = _written(target, _property(target, error, "reload"), tmp_path)
    shown = _run(script, tmp_path)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "after reloading" in shown.stdout
    assert _run(script, tmp_path, CORRECT).returncode == 0


def test_an_unchanged_inputs_script_finds_the_gradient_a_step_modified(tmp_path: Path) -> None:
    target = _target("radam_verify.impls.defects:GradientModifiedInPlace")
    scenario = _scenario(Hyper(weight_decay=0.1), steps=2)
    found = checks.unchanged(target.adapter, scenario)
    assert found is not None
    error = fail(target, "step leaves its inputs alone", scenario, str(found),
                 {"quantity": found.quantity}, {"kind": "unchanged"})
    script = _written(target, _property(target, error, "unchanged"), tmp_path)
    shown = _run(script, tmp_path)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "changed the gradient" in shown.stdout
    assert _run(script, tmp_path, CORRECT).returncode == 0


def test_a_frozen_script_finds_the_parameter_a_step_with_zero_learning_rate_changed(
    impls: Path, tmp_path: Path
) -> None:
    target = _target("standalone_impls:MovesAtZeroLearningRate", dtype="float64")
    scenario = _scenario(Hyper(lr=0.0), steps=3)
    tiny = np.array([5e-324, -1e-310, 1.0, 0.0, 2.0])
    scenario = Scenario((GroupSpec(Hyper(lr=0.0), (tiny,)),),
                        tuple(((step[0][0],),) for step in scenario.steps))
    found = checks.frozen(target.adapter, scenario)
    assert found is not None
    assert found.where == {"group": 0, "tensor": 0, "index": 0, "t": 1}
    error = fail(target, "scalars at the edges", scenario, found.text,
                 {"quantity": "theta", **found.where}, {"kind": "frozen"})
    script = _written(target, _property(target, error, "frozen"), tmp_path)
    shown = _run(script, impls)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "with lr = 0, step 1 changed theta[0]" in shown.stdout
    assert _run(script, impls, "radam_verify.impls:ReferenceRAdam").returncode == 0
    # judged as a platform that flushes subnormals, the same steps change nothing it owns
    flushing = target.adapter.fmt.flushing()
    target.adapter.fmt = flushing
    assert checks.frozen(target.adapter, scenario) is None
    # from an injected state, the script steps from that state too: there a parameter
    # becomes subnormal only after the injection, so a script that ignored START would
    # find nothing
    target.adapter.fmt = load_adapter("standalone_impls:MovesAtZeroLearningRate", {}, "cpu",
                                      "float64").fmt
    start = ((ParamState(np.array([1.0, 1e-310, 2.0]), np.zeros(3), np.ones(3), 7),),)
    injected = Scenario((GroupSpec(Hyper(lr=0.0), (np.array([1.0, 1.0, 2.0]),)),),
                        tuple(((np.ones(3),),) for _ in range(2)), start=start)
    found = checks.frozen(target.adapter, injected)
    assert found is not None
    assert found.where == {"group": 0, "tensor": 0, "index": 1, "t": 1}
    error = fail(target, "scalars at the edges", injected, found.text,
                 {"quantity": "theta", **found.where}, {"kind": "frozen"})
    script = _written(target, _property(target, error, "frozen"), tmp_path)
    shown = _run(script, impls)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "step 1 changed theta[1]" in shown.stdout


def test_an_exception_script_reruns_the_steps_that_raised(impls: Path, tmp_path: Path) -> None:
    target = _target("standalone_impls:RaisesOnThirdStep")
    scenario = _scenario(Hyper(), steps=4)
    with pytest.raises(DeviationError) as raised:
        calling(target, "trajectory", scenario,
                lambda: checks.exact(target.adapter, scenario, target.convention))
    script = _written(target, _property(target, raised.value, "exception"), tmp_path)
    shown = _run(script, impls)
    assert shown.returncode == 1
    assert "kernel launch failed" in shown.stderr
    assert _run(script, impls, CORRECT).returncode == 0


def test_a_strided_views_script_whose_steps_raised_reruns_them(impls: Path,
                                                                tmp_path: Path) -> None:
    """A strided-views example on which the step raised: the script places the parameters
    as the example did and reruns the steps; it exits 1 with the implementation's error,
    and 0 on the correct implementation, which steps the same views."""
    from radam_verify.suite import designed

    target = _target("standalone_impls:RaisesOnStridedParameters")
    scenario = designed.crossing_placed(target)
    check: dict[str, object] = {"kind": "placed"}
    with pytest.raises(DeviationError) as raised:
        calling(target, "strided views", scenario,
                lambda: checks.placed(target.adapter, scenario, target.convention), check)
    assert raised.value.details["quantity"] == "exception"
    script = _written(target, _property(target, raised.value, "placed"), tmp_path)
    shown = _run(script, impls)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "expected a contiguous parameter" in shown.stderr
    correct = _run(script, impls, CORRECT)
    assert correct.returncode == 0, correct.stdout + correct.stderr


def test_an_optax_script_runs_jax_as_the_adapter_does(tmp_path: Path) -> None:
    pytest.importorskip("optax")
    target = _target("optax:radam", "float32", "official")
    scenario = _scenario(Hyper(), steps=3)
    outcome = checks.exact(target.adapter, scenario, target.convention)
    assert not outcome.conforms  # optax steps below the threshold, the official reading does not
    with pytest.raises(DeviationError) as raised:
        require_conforms(target, "trajectory", scenario, outcome, Record())
    script = _written(target, _property(target, raised.value, "trajectory"), tmp_path)
    shown = _run(script, tmp_path, without_radam_verify=True)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert raised.value.details["exact"] in shown.stdout


def test_a_script_of_a_property_that_no_longer_fails_is_removed(tmp_path: Path) -> None:
    """A verdict rewritten into the same folder keeps scripts only for what fails now."""
    folder = tmp_path / "repro"
    folder.mkdir()
    (folder / "parameter_groups_keep_their_own_hyperparameters.py").write_text("old\n")
    verdict = {"properties": [{"property": "test_parameter_groups_keep_their_own_hyperparameters",
                               "outcome": "passed"}]}
    assert write_scripts(_target(CORRECT).adapter, verdict, folder) == []
    assert list(folder.iterdir()) == []


def test_a_transplant_script_shows_a_loaded_state_dict_that_stays_tied_to_its_source(
        tmp_path: Path) -> None:
    """torch.optim.RAdam keeps the loaded state dict's tensors: the script exits 1; a class
    whose load_state_dict copies exits 0."""
    target = _target("torch.optim:RAdam")
    scenario = _scenario(Hyper(), steps=4)
    found = checks.transplant(target.adapter, scenario, 2)
    assert found is not None
    check: dict[str, object] = {"kind": "transplant", "save_at": 2}
    error = fail(target, "a loaded state dict is a copy", scenario, str(found),
                 {"quantity": found.quantity}, check)
    script = _written(target, _property(target, error, "transplant"), tmp_path)
    shown = _run(script, tmp_path, without_radam_verify=True)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "DEVIATES" in shown.stdout
    assert "serialized copy" in shown.stdout or "came from" in shown.stdout
    fixed = _run(script, tmp_path, CORRECT)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "continues bit for bit" in fixed.stdout


def test_an_optax_lookahead_script_drives_its_fast_and_slow_weights(tmp_path: Path) -> None:
    """optax.lookahead's slow weights start at theta_0; judged as if they started at the
    first sync (timm's reading) it deviates at the sync, and the script, built around the
    inner factory with LookaheadParams as the adapter builds it, shows the same value
    without radam-verify."""
    pytest.importorskip("optax")
    adapter = load_adapter("optax:lookahead", {"inner": "optax:adam", "sync_period": 2,
                                               "slow_step_size": 0.5}, "cpu", "float64")
    target = Target(adapter, parse_convention(
        "optax-adam,lookahead_k=2,lookahead_start=first-sync,lookahead_sync=merged"),
        "given", PROFILES["quick"], 0)
    scenario = _scenario(Hyper(), steps=5)
    outcome = checks.exact(target.adapter, scenario, target.convention)
    assert not outcome.conforms
    with pytest.raises(DeviationError) as raised:
        require_conforms(target, "trajectory", scenario, outcome, Record())
    script = _written(target, _property(target, raised.value, "trajectory"), tmp_path)
    shown = _run(script, tmp_path, without_radam_verify=True)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert raised.value.details["exact"] in shown.stdout


def test_an_optax_script_sets_the_hyperparameters_a_schedule_sets(tmp_path: Path) -> None:
    """optax.adam built with inject_hyperparams, eps = 0 for two steps (where eps's placement
    makes no difference), then a schedule sets eps = 0.5: judged with eps beside the raw
    sqrt(v) it deviates only from the third step, and the script, which sets eps in the
    state as the adapter does, shows the same observed value without radam-verify."""
    pytest.importorskip("optax")
    adapter = load_adapter("optax:adam", {"inject_hyperparams": True}, "cpu", "float64")
    target = Target(adapter, parse_convention("adam,eps=raw"), "given", PROFILES["quick"], 0)
    scenario = replace(_scenario(Hyper(eps=0.0), steps=4),
                       retuned=((2, (Hyper(eps=0.5),)),))
    outcome = checks.exact(target.adapter, scenario, target.convention)
    with pytest.raises(DeviationError) as raised:
        require_conforms(target, "trajectory", scenario, outcome, Record())
    assert raised.value.details["t"] >= 3
    script = _written(target, _property(target, raised.value, "trajectory"), tmp_path)
    assert "inject_hyperparams" in script.read_text()
    shown = _run(script, tmp_path, without_radam_verify=True)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert repr(raised.value.details["observed"]) in shown.stdout


def test_a_keras3_script_sets_the_hyperparameters_a_schedule_sets(tmp_path: Path) -> None:
    """Keras 3's Adam (torch backend), eps = 0 for two steps, then a schedule sets its
    epsilon to 0.5 on the live optimizer: judged with eps beside sqrt(v_hat) (Keras puts it
    beside the raw sqrt(v)) it deviates only from the third step, and the script, which sets
    the attribute as the adapter does, shows the same observed value without radam-verify."""
    os.environ.setdefault("KERAS_BACKEND", "torch")  # read when keras is first imported
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("this worker's Keras runs on another backend")
    adapter = load_adapter("keras.optimizers:Adam", {}, "cpu", "float32")
    target = Target(adapter, parse_convention("keras-adam,eps=hat,scalars=float32"), "given",
                    PROFILES["quick"], 0)
    scenario = replace(_scenario(Hyper(eps=0.0), steps=4),
                       retuned=((2, (Hyper(eps=0.5),)),))
    outcome = checks.exact(target.adapter, scenario, target.convention)
    with pytest.raises(DeviationError) as raised:
        require_conforms(target, "trajectory", scenario, outcome, Record())
    assert raised.value.details["t"] >= 3
    script = _written(target, _property(target, raised.value, "trajectory"), tmp_path)
    assert "'epsilon': 0.5" in script.read_text()  # RETUNED: set before the third step
    shown = _run(script, tmp_path, without_radam_verify=True)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert repr(raised.value.details["observed"]) in shown.stdout
