"""Adapters: state layout found by inspection, state read and injected exactly, optax and
the protocol, and identification of each preset and of a defect no convention explains."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from radam_verify.adapters import Adapter, GroupSpec, ParamState, load_adapter
from radam_verify.conventions import PRESETS, parse_convention
from radam_verify.errors import UsageError
from radam_verify.hyper import Hyper
from radam_verify.identify import identify
from radam_verify.suite import checks
from radam_verify.suite.scenario import Scenario

STATE = ParamState(np.array([0.5, -2.0, 3.0]), np.array([0.1, 0.0, -0.2]),
                   np.array([0.04, 1e-6, 0.5]), 12345)


@pytest.mark.parametrize("spec", ["torch.optim:RAdam", "radam_verify.impls:ReferenceRAdam",
                                  "radam_verify.impls.torch_radam:ConventionRAdam"])
def test_an_injected_state_reads_back_exactly(spec: str) -> None:
    adapter = load_adapter(spec)
    assert adapter.capabilities.read_state
    assert adapter.capabilities.inject_state
    instance = adapter.open([GroupSpec(Hyper(), (STATE.theta,))])
    instance.inject([[STATE]])
    back = instance.read()[0][0]
    for name in ("theta", "m", "v"):
        expected = adapter.to_format(getattr(STATE, name)).astype(np.float64)
        assert np.array_equal(getattr(back, name), expected)
    assert back.t == STATE.t


def test_torch_code_paths_are_found_from_the_constructor() -> None:
    adapter = load_adapter("torch.optim:RAdam")
    assert {"for-loop", "foreach", "differentiable"} <= set(adapter.capabilities.code_paths)
    assert "capturable" not in adapter.capabilities.code_paths  # CPU: not offered
    assert "path capturable" in adapter.capabilities.notes


def test_optax_state_is_read_and_injected() -> None:
    pytest.importorskip("optax")
    adapter = load_adapter("optax:radam", dtype="float64")
    assert not adapter.capabilities.weight_decay
    assert not adapter.capabilities.maximize
    instance = adapter.open([GroupSpec(Hyper(), (STATE.theta,))])
    instance.inject([[STATE]])
    back = instance.read()[0][0]
    assert back.t == STATE.t
    assert np.array_equal(back.v, STATE.v)


@pytest.mark.parametrize("kwargs", [
    {"inject_hyperparams": True},
    # flags that are not numbers stay static arguments of the factory, under jit too
    {"inject_hyperparams": True, "bias_correction_mu": False, "bias_correction_nu": False},
])
def test_optax_inject_hyperparams_takes_hyperparameters_set_between_steps(
        kwargs: dict[str, object]) -> None:
    """Built with optax.inject_hyperparams, a group's hyperparameters set after its first
    step govern its second: bit for bit the step a transformation built with them takes from
    the state after the first step, and not the step the old ones take."""
    pytest.importorskip("optax")
    spec = "optax:amsgrad"
    before, after = Hyper(lr=0.01, beta2=0.999), Hyper(lr=0.003, beta1=0.5, beta2=0.9, eps=1e-6)
    grads = [np.array([0.3, -2.0, 1e-3]), np.array([-0.7, 0.25, 4.0])]
    adapter = load_adapter(spec, kwargs, dtype="float64")
    assert adapter.capabilities.retune
    live = adapter.open([GroupSpec(before, (STATE.theta,))])
    live.step([[grads[0]]])
    first = live.read()[0][0]
    live.retune([after])
    live.step([[grads[1]]])

    plain = load_adapter(spec, {k: v for k, v in kwargs.items() if k != "inject_hyperparams"},
                         dtype="float64")
    assert not plain.capabilities.retune
    assert "inject_hyperparams" in plain.capabilities.notes["retune"]
    seconds = []
    for hyper in (after, before):
        fresh = plain.open([GroupSpec(hyper, (STATE.theta,))])
        fresh.inject([[first]])
        fresh.step([[grads[1]]])
        seconds.append(fresh.read()[0][0].theta)
    assert np.array_equal(live.read()[0][0].theta, seconds[0])
    assert not np.array_equal(seconds[0], seconds[1])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"inject_hyperparams": "yes"}, "must be true or false"),
    ({"inject_hyperparams": True, "inner": "optax:adam", "sync_period": 3,
      "slow_step_size": 0.5}, "with optax.lookahead"),
])
def test_optax_inject_hyperparams_refuses_what_it_cannot_do(kwargs: dict[str, object],
                                                            message: str) -> None:
    pytest.importorskip("optax")
    spec = "optax:lookahead" if "inner" in kwargs else "optax:adam"
    with pytest.raises(UsageError, match=message):
        load_adapter(spec, kwargs, dtype="float64")


# Lookahead's presets are given here (its k and alpha are constructor arguments; a wrapper's
# are read from it: test_identify_names_a_lookahead_wrappers_inner_reading_... below)
@pytest.mark.parametrize("preset", [name for name, c in PRESETS.items() if not c.lookahead])
def test_identify_names_the_preset_of_each_reimplementation(preset: str) -> None:
    found = identify(load_adapter("radam_verify.impls:ReferenceRAdam", {"convention": preset}))
    assert found.preset == preset
    expected = PRESETS[preset].axes()
    assert found.axes["algorithm"] == expected["algorithm"]
    if PRESETS[preset].is_adam:  # RAdam's axes are not Adam's: neither shown nor undetermined
        assert found.axes == expected
        assert found.undetermined == {}
        return
    assert found.axes["threshold"] == PRESETS[preset].threshold
    assert found.axes["comparison"] is None  # no probe can separate > from >=
    assert "comparison" in found.undetermined


@pytest.mark.parametrize(("kwargs", "preset"), [({}, "adam"), ({"foreach": True}, "adam"),
                                                 ({"fused": True}, "adam")])
def test_identify_names_torch_adam(kwargs: dict[str, object], preset: str) -> None:
    assert identify(load_adapter("torch.optim:Adam", kwargs)).preset == preset
    assert identify(load_adapter("torch.optim:AdamW", kwargs)).preset == preset + "w"


@pytest.mark.parametrize("spec", ["torch.optim:AdamW", "optax:adamw"])
def test_identify_keeps_decoupled_decay_where_decay_merged_into_the_update_fits_too_and_says_so(
        spec: str) -> None:
    """torch's AdamW multiplies theta by 1 - lr wd; optax's adamw adds wd theta to the update
    before scaling it by lr. Both readings are candidates and both reproduce every probe for
    either implementation (the same exact step): the stricter, decoupled, is named, and the
    evidence says that the merged reading fits as well. For Adam's L2 decay the merged
    reading is a candidate the probes reject, as the decoupled one."""
    pytest.importorskip(spec.split(":")[0])
    found = identify(load_adapter(spec, {}, dtype="float64"))
    assert found.axes["weight_decay"] == "decoupled"
    assert "weight_decay" not in found.undetermined
    assert any(line.startswith("weight_decay=decoupled: decay merged into the update")
               for line in found.evidence), found.evidence
    l2 = identify(load_adapter("torch.optim:Adam", {}, dtype="float64"))
    assert l2.axes["weight_decay"] == "l2"
    assert not any(line.startswith("weight_decay=decoupled") for line in l2.evidence)
    assert any(line.startswith("weight_decay=l2, not merged: probe ") for line in l2.evidence)


@pytest.mark.parametrize(("kwargs", "preset"), [({}, "pytorch"),
                                                 ({"decoupled_weight_decay": True}, "official-sgd"),
                                                 ({"maximize": True, "foreach": False}, "pytorch")])
def test_identify_names_torch_radam(kwargs: dict[str, object], preset: str) -> None:
    assert identify(load_adapter("torch.optim:RAdam", kwargs)).preset == preset


def test_identify_names_optax_radam_in_float64() -> None:
    pytest.importorskip("optax")
    assert identify(load_adapter("optax:radam", dtype="float64")).preset == "optax"


def _steps_of_adam(spec: str, kwargs: dict[str, object]
                   ) -> tuple[Adapter, Scenario, list[list[ParamState]],
                              list[list[list[ParamState]]]]:
    """Three float32 steps at b2 = 0.999 (not a binary32 number: 1 - b2 formed from its
    binary32 rounding is 1.3e-5 of itself off, about a hundred float32 ulps of v)."""
    from radam_verify.suite.scenario import run

    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8)
    steps = tuple(((np.array(g),),) for g in ([0.25, -1.0, 1e-3, 3.0], [0.5, 2.0, -0.5, 1.0],
                                               [1.0, -0.3, 0.2, 2.0]))
    scenario = Scenario((GroupSpec(hyper, (np.array([0.5, -2.0, 3.0, 1.0]),)),), steps)
    adapter = load_adapter(spec, kwargs, dtype="float32")
    return adapter, scenario, *run(adapter, scenario)


@pytest.mark.parametrize(("kwargs", "accepted", "rejected"), [
    ({}, "float32", "float32-held"),
    ({"inject_hyperparams": True}, "float32-held", "float32"),
])
def test_optax_in_float32_holds_its_hyperparameters_in_binary32_only_when_injected(
        kwargs: dict[str, object], accepted: str, rejected: str) -> None:
    """optax.inject_hyperparams keeps b2 as a float32 array and forms 1 - b2 from it; a plain
    transformation's 1 - b2 is the float64 difference rounded once. Each follows exactly one
    of the two readings, and identify names that one."""
    pytest.importorskip("optax")
    from radam_verify.suite.scenario import judge

    adapter, scenario, initial, observed = _steps_of_adam("optax:adam", kwargs)
    for scalars, conforms in ((accepted, True), (rejected, False)):
        reading = parse_convention(f"optax-adam,scalars={scalars}")
        outcome = judge(adapter, scenario, reading, initial, observed)
        assert outcome.out_of_domain is None
        assert outcome.conforms is conforms, (scalars, outcome.worst())
    assert identify(adapter).preset == f"optax-adam,scalars={accepted}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_optax_eps_root_is_a_reading_identify_names_and_the_plain_reading_rejects(
        dtype: str) -> None:
    """optax.adam(eps_root=1e-3) takes the root of nu_hat + eps_root: its steps conform to
    ``optax-adam,eps_root=0.001`` and not to ``optax-adam`` (gradients near 0.03 make the
    constant a large share of v_hat), and identify carries the keyword into the reading it
    names, saying so."""
    pytest.importorskip("optax")
    from radam_verify.suite.scenario import judge, run

    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8)
    steps = tuple(((np.array(g),),) for g in ([0.03, -0.01, 1e-3, 3.0], [0.05, 0.02, -0.5, 1.0]))
    scenario = Scenario((GroupSpec(hyper, (np.array([0.5, -2.0, 3.0, 1.0]),)),), steps)
    adapter = load_adapter("optax:adam", {"eps_root": 1e-3}, dtype=dtype)
    initial, observed = run(adapter, scenario)
    held = "" if dtype == "float64" else ",scalars=float32"
    for spec, conforms in ((f"optax-adam{held},eps_root=0.001", True),
                           (f"optax-adam{held}", False)):
        outcome = judge(adapter, scenario, parse_convention(spec), initial, observed)
        assert outcome.conforms is conforms, (spec, outcome.worst())
    found = identify(adapter)
    assert found.preset == f"optax-adam{held},eps_root=0.001"
    assert found.axes["eps_root"] == 1e-3
    assert any(line.startswith("eps_root = 0.001") for line in found.evidence)


def test_identify_tries_hyperparameters_held_in_binary32_last_and_says_so() -> None:
    """A reimplementation of Adam holding its hyperparameters in binary32 is identified as
    that reading, with the reason in the evidence; one holding them as given keeps its
    reading (the held one is not tried where another reproduces every probe)."""
    spec = "radam_verify.impls.torch_radam:ConventionRAdam"
    held = identify(load_adapter(spec, {"convention": "adam,scalars=float32-held"}))
    assert held.preset == "adam,scalars=float32-held"
    assert any(line.startswith("scalars=float32-held: no reading with the hyperparameters as "
                               "given") for line in held.evidence)
    given = identify(load_adapter(spec, {"convention": "adam,scalars=float32"}))
    assert given.preset == "adam,scalars=float32"
    assert not any("float32-held" in line for line in given.evidence)


def test_identify_returns_null_for_swapped_betas() -> None:
    found = identify(load_adapter("radam_verify.impls.defects:SwappedBetas"))
    assert found.preset is None
    assert not found.consistent
    assert all(value is None for value in found.axes.values())
    assert "no convention reproduces every probe" in found.evidence[-1]


def test_a_protocol_class_without_step_is_not_an_optimizer() -> None:
    with pytest.raises(UsageError, match="is not an optimizer"):
        load_adapter("radam_verify.hyper:Hyper")


@pytest.mark.parametrize(("spec", "kwargs", "preset"), [
    ("torch_optimizer:RAdam", {}, "official-sgd"),
    ("pytorch_optimizer:RAdam", {}, "official"),
    ("pytorch_optimizer:RAdam", {"degenerated_to_sgd": True}, "official-sgd"),
])
def test_identify_names_the_third_party_presets(spec: str, kwargs: dict[str, object],
                                                preset: str) -> None:
    pytest.importorskip(spec.split(":")[0])
    assert identify(load_adapter(spec, kwargs)).preset == preset


def test_complex_parameters_step_as_pairs_of_reals() -> None:
    """torch.optim.RAdam on complex64 gives bit for bit the float32 step of the real array."""
    theta = np.array([0.5, -2.0, 3.0])  # odd length: the last complex value is padded
    grads = [np.array([0.25, -1.0, 1e-3]), np.array([0.0, 2.0, -0.5])]
    states = []
    for dtype in ("float32", "complex64"):
        adapter = load_adapter("torch.optim:RAdam", {"foreach": False}, dtype=dtype)
        instance = adapter.open([GroupSpec(Hyper(weight_decay=0.1), (theta,))])
        for grad in grads:
            instance.step([[grad]])
        states.append(instance.read()[0][0])
    real, paired = states
    assert adapter.dtype == "complex64"
    for name in ("theta", "m", "v"):
        assert np.array_equal(getattr(real, name), getattr(paired, name))


@pytest.mark.parametrize(("spec", "preset"), [("torch.optim:Adam", "adam"),
                                              ("torch.optim:AdamW", "adamw")])
def test_the_padding_of_an_odd_number_of_reals_never_reaches_them(spec: str, preset: str) -> None:
    """Adam with eps = 0 rectifies from step 1: a padding real whose gradient and v were 0
    would be 0 / 0, and L2's complex product would carry that NaN into the real part
    beside it. The padding is a real with gradient 1, so the complex run is finite and
    conforms to the exact steps of the real array, with eps = 0 and weight decay."""
    from radam_verify.suite.scenario import Scenario, judge, run

    adapter = load_adapter(spec, {"foreach": False}, dtype="complex64")
    hyper = Hyper(lr=1e-2, eps=0.0, weight_decay=0.1)
    steps = tuple(((np.array(g),),) for g in ([0.25, -1.0, 1e-3], [0.0, 2.0, -0.5],
                                               [1.0, 0.0, 0.0]))
    scenario = Scenario((GroupSpec(hyper, (np.array([0.5, -2.0, 3.0]),)),), steps)
    initial, observed = run(adapter, scenario)
    assert np.all(np.isfinite(observed[-1][0][0].theta))
    outcome = judge(adapter, scenario, PRESETS[preset], initial, observed)
    assert outcome.out_of_domain is None
    assert outcome.conforms, outcome.worst()


def test_complex_dtypes_need_a_torch_optimizer() -> None:
    with pytest.raises(UsageError, match="needs a torch optimizer"):
        load_adapter("radam_verify.impls:ReferenceRAdam", dtype="complex64")


def test_maximize_set_in_the_constructor_is_shared_by_every_group() -> None:
    """An optimizer that keeps maximize outside its defaults gets it once, in the constructor;
    keywords that fix maximize fix it for every drawn group."""
    import torch

    class OptimizerWideMaximize(torch.optim.Optimizer):
        def __init__(self, params: object, lr: float = 1e-3, betas: object = (0.9, 0.999),
                     eps: float = 1e-8, weight_decay: float = 0.0, maximize: bool = False) -> None:
            self.maximize = maximize
            super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                      "weight_decay": weight_decay})

        def step(self, closure: object = None) -> None:
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.data.add_(p.grad, alpha=group["lr"] if self.maximize else -group["lr"])

    import sys
    module = type(sys)("wide_maximize")
    module.OptimizerWideMaximize = OptimizerWideMaximize  # type: ignore[attr-defined]
    sys.modules["wide_maximize"] = module
    try:
        caps = load_adapter("wide_maximize:OptimizerWideMaximize").capabilities
        assert caps.maximize
        assert not caps.maximize_per_group
        adapter = load_adapter("wide_maximize:OptimizerWideMaximize")
        instance = adapter.open([GroupSpec(Hyper(lr=0.5, maximize=True), (np.zeros(2),))])
        instance.step([[np.ones(2)]])
        assert np.array_equal(instance.read()[0][0].theta, [0.5, 0.5])  # it ascended
        fixed = load_adapter("torch.optim:RAdam", {"maximize": True}).capabilities
        assert fixed.maximize_per_group
        assert fixed.maximize_fixed is True
    finally:
        del sys.modules["wide_maximize"]


_SNAPSHOT_CASES = [
    *(("torch.optim:RAdam", {"foreach": False}, dtype)
      for dtype in ("float32", "float64", "complex64", "complex128")),
    *(("radam_verify.impls:ReferenceRAdam", {"in_place": True}, dtype)
      for dtype in ("float32", "float64")),
    *(("optax:radam", {}, dtype) for dtype in ("float32", "float64")),
]


@pytest.mark.parametrize(("spec", "kwargs", "dtype"), _SNAPSHOT_CASES,
                         ids=[f"{spec.split(':')[0]}-{dtype}" for spec, _, dtype in _SNAPSHOT_CASES])
def test_a_state_read_is_a_snapshot_that_later_steps_leave_alone(
    spec: str, kwargs: dict[str, object], dtype: str
) -> None:
    """Every reader copies: a view of the implementation's memory (Tensor.numpy() of a float64
    tensor, an in-place kernel's own array) would move with every later step."""
    if spec.startswith("optax"):
        pytest.importorskip("optax")
    adapter = load_adapter(spec, kwargs, dtype=dtype)
    instance = adapter.open([GroupSpec(Hyper(lr=0.1, beta2=0.5), (np.array([0.5, -2.0, 3.0, 1.0]),))])
    instance.step([[np.array([0.1, -0.2, 0.3, 0.4])]])
    first = instance.read()[0][0]
    kept = {name: np.array(getattr(first, name), copy=True) for name in ("theta", "m", "v")}
    instance.step([[np.array([0.5, 0.5, -0.5, 1.0])]])
    second = instance.read()[0][0]
    for name, before in kept.items():
        assert np.array_equal(getattr(first, name), before), f"{name} read before moved"
        assert not np.array_equal(getattr(second, name), before), f"the step left {name} alone"


def _half_second_moment() -> type:
    """Not an entry of the catalogue: its bfloat16 defect with v held in float16 instead."""
    import torch

    from radam_verify.impls.defects import LowPrecisionSecondMoment

    class Half(LowPrecisionSecondMoment):
        def init_state(self, param: torch.Tensor) -> dict[str, object]:
            state = super().init_state(param)
            state["exp_avg_sq"] = state["exp_avg_sq"].to(torch.float16)
            return state

    return Half


@pytest.mark.parametrize("held", ["bfloat16", "float16"])
def test_state_held_in_a_narrower_dtype_is_read_and_injected_in_that_dtype(
    held: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v kept in bfloat16 or float16 (numpy has no bfloat16) reads by its numbers, and an
    injected v is rounded to the dtype the implementation holds it in."""
    import sys

    import torch

    module = type(sys)("narrow_state")
    module.Half = _half_second_moment()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "narrow_state", module)
    spec = ("radam_verify.impls.defects:LowPrecisionSecondMoment" if held == "bfloat16"
            else "narrow_state:Half")
    adapter = load_adapter(spec)
    dtype = getattr(torch, held)
    assert adapter.keys.v_dtype == dtype  # type: ignore[attr-defined]
    assert adapter.capabilities.read_state
    instance = adapter.open([GroupSpec(Hyper(), (STATE.theta,))])
    instance.inject([[STATE]])
    held_v = instance.optimizer.state[instance.tensors[0][0]]["exp_avg_sq"]  # type: ignore[attr-defined]
    assert held_v.dtype == dtype
    rounded = torch.tensor(STATE.v, dtype=torch.float32).to(dtype).to(torch.float64).numpy()
    assert np.array_equal(instance.read()[0][0].v, rounded)
    assert not np.array_equal(rounded, STATE.v)  # the rounding is visible
    instance.step([[np.array([0.3, -0.1, 0.7])]])
    stepped = instance.optimizer.state[instance.tensors[0][0]]["exp_avg_sq"]  # type: ignore[attr-defined]
    assert np.array_equal(instance.read()[0][0].v, stepped.float().numpy().astype(np.float64))


def test_the_header_names_the_distribution_and_the_framework_beside_it() -> None:
    import torch

    optimi = load_adapter("optimi:RAdam")
    assert (optimi.distribution, optimi.version) == ("torch-optimi", "0.3.3")
    assert optimi.provenance == f"torch-optimi 0.3.3, torch {torch.__version__}"
    own = load_adapter("torch.optim:RAdam")
    assert own.provenance == f"torch {torch.__version__}"
    protocol = load_adapter("radam_verify.impls:ReferenceRAdam")
    assert protocol.distribution == "radam-verify"


def test_a_required_lr_and_group_keys_of_their_own_are_found_from_the_optimizer() -> None:
    """optimi.RAdam(params, lr, betas=...) requires lr and keeps beta1/beta2 in its groups:
    it is constructed without --verify-kwargs, and each group gets its own betas there."""
    adapter = load_adapter("optimi:RAdam")
    assert adapter.hyperparameter_keys == ["lr", "beta1", "beta2", "eps", "weight_decay"]
    groups = [GroupSpec(Hyper(lr=0.01, beta1=0.5, beta2=0.75, eps=1e-3), (np.ones(3),)),
              GroupSpec(Hyper(lr=0.02, beta1=0.25, beta2=0.875, eps=0.0), (np.ones(2),))]
    instance = adapter.open(groups)
    held = [(g["lr"], g["beta1"], g["beta2"], g["eps"])
            for g in instance.optimizer.param_groups]  # type: ignore[attr-defined]
    assert held == [(0.01, 0.5, 0.75, 1e-3), (0.02, 0.25, 0.875, 0.0)]
    assert all("betas" not in g for g in instance.optimizer.param_groups)  # type: ignore[attr-defined]


NAMED = '''
from radam_verify.impls.torch_radam import ConventionRAdam


class NamedRAdam(ConventionRAdam):
    """lr required; the betas and eps under other names in the constructor."""

    def __init__(self, params, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=(beta_1, beta_2), eps=epsilon,
                         weight_decay=weight_decay)
'''


def test_constructor_names_beta_1_beta_2_and_epsilon_are_found_and_refused_as_kwargs(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import pathlib

    folder = pathlib.Path(str(tmp_path))
    (folder / "named_radam.py").write_text(NAMED)
    monkeypatch.syspath_prepend(str(folder))
    adapter = load_adapter("named_radam:NamedRAdam")
    assert adapter.names.betas == ("beta_1", "beta_2")  # type: ignore[attr-defined]
    assert adapter.names.eps == "epsilon"  # type: ignore[attr-defined]
    assert adapter.names.required == ("lr",)  # type: ignore[attr-defined]
    # its groups keep torch's keys (ConventionRAdam's defaults), so those are set per group
    assert adapter.hyperparameter_keys[:4] == ["lr", "betas", "eps", "weight_decay"]
    with pytest.raises(UsageError, match="--verify-kwargs names beta_1, epsilon"):
        load_adapter("named_radam:NamedRAdam", {"beta_1": 0.5, "epsilon": 0.0})


#: each wrapper, where its reading starts the slow weights and whose steps its syncs follow
WRAPPERS = [("radam_verify.timm_optim:Lookahead", "first-sync", "group"),
            ("torch_optimizer:Lookahead", "first-step", "group-all"),
            ("pytorch_optimizer:Lookahead", "theta0", "group")]


@pytest.mark.parametrize(("spec", "start", "count"), WRAPPERS)
@pytest.mark.parametrize(("inner", "reading"), [("torch.optim:RAdam", "pytorch"),
                                                ("torch.optim:Adam", "adam")])
def test_identify_names_a_lookahead_wrappers_inner_reading_its_k_alpha_start_and_count(
        spec: str, start: str, count: str, inner: str, reading: str) -> None:
    """A wrapper's inner optimizer is identified alone, its k and alpha are read from a
    wrapper the adapter builds, and where its slow weights start and whose steps its syncs
    follow from a run that crosses two syncs with a second tensor missing the first ones:
    each wrapper's own start and count, the other eight pairs rejected."""
    k = 4
    found = identify(load_adapter(spec, {"inner": inner, "foreach": False, "k": k,
                                         "alpha": 0.25}))
    assert found.consistent
    assert found.convention == parse_convention(
        f"{reading},lookahead_k={k},lookahead_alpha=0.25,lookahead_start={start},"
        f"lookahead_count={count}")
    assert (found.axes["lookahead_k"], found.axes["lookahead_alpha"],
            found.axes["lookahead_start"], found.axes["lookahead_count"]) == (
        k, 0.25, start, count)
    rejected = [e for e in found.evidence if e.startswith("lookahead_start=")]
    assert len(rejected) == 8
    assert not any(e.startswith(f"lookahead_start={start}, lookahead_count={count}:")
                   for e in rejected)


@pytest.mark.parametrize(("spec", "kwargs"), [("pytorch_ranger:Ranger", {"k": 4, "alpha": 0.25}),
                                             ("pytorch_optimizer:Ranger",
                                              {"k": 4, "alpha": 0.25, "degenerated_to_sgd": True})])
@pytest.mark.filterwarnings("ignore:This overload of addcmul_ is deprecated:UserWarning")
def test_identify_names_a_built_in_lookahead_with_its_k_alpha_and_start(
        spec: str, kwargs: dict[str, object]) -> None:
    """Ranger's Lookahead is built in: its k and alpha are read from its groups and every
    candidate reading is judged with each start of the slow weights, so the probes' syncs
    (after step 4) are compared: the ranger preset's reading (slow weights from theta_0),
    with this k and alpha; the other starts are rejected in the evidence."""
    found = identify(load_adapter(spec, kwargs))
    assert found.consistent
    assert found.convention is not None
    assert (found.convention.name, found.convention.lookahead_k,
            found.convention.lookahead_alpha, found.convention.lookahead_start) == (
        "ranger", 4, 0.25, "theta0")
    assert any("rejects lookahead_start=first-sync" in e for e in found.evidence)


def test_identify_finds_no_reading_for_rangers_ascent_below_the_threshold() -> None:
    """pytorch-optimizer's default Ranger steps theta + lr m_hat below the threshold: no
    candidate, with any start of its slow weights, reproduces the probes, and the evidence
    says that Lookahead was part of every candidate."""
    found = identify(load_adapter("pytorch_optimizer:Ranger"))
    assert not found.consistent
    assert found.evidence[0].startswith("Lookahead built in, with k = 6 and alpha = 0.5")


@pytest.mark.parametrize(("spec", "start", "count"), WRAPPERS)
def test_a_lookahead_wrapper_steps_from_an_injected_state_as_the_inner_optimizer_then_syncs(
        spec: str, start: str, count: str) -> None:
    """An injected state at t = 2k - 1 (slow weights phi given): the next step is
    torch.optim.RAdam's own step from the same state, then a sync pulls it half-way to phi
    (alpha = 0.5, one rounding of the float64 lerp at most), and the wrapper's counters
    say the step count."""
    import torch

    k = 3
    adapter = load_adapter(spec, {"inner": "torch.optim:RAdam", "foreach": False, "k": k},
                           dtype="float64")
    adapter.slow_from = parse_convention(
        f"pytorch,lookahead_k={k},lookahead_start={start},lookahead_count={count}").slow_from
    assert adapter.capabilities.slow_state
    assert adapter.capabilities.inject_state
    # timm and pytorch-optimizer sync after step 2k, torch-optimizer after step 2k + 1
    t = 2 * k if spec.startswith("torch_optimizer") else 2 * k - 1
    phi = np.array([0.25, -1.5, 2.0])
    state = ParamState(STATE.theta, STATE.m, STATE.v, t, slow=phi)
    grad = np.array([0.3, -0.1, 0.2])
    instance = adapter.open([GroupSpec(Hyper(), (STATE.theta,))])
    instance.inject([[state]])
    assert np.array_equal(instance.read()[0][0].slow, phi)
    instance.step([[grad]])
    # the inner optimizer alone, from the same state
    p = torch.nn.Parameter(torch.tensor(STATE.theta))
    inner = torch.optim.RAdam([p], lr=Hyper().lr, foreach=False)
    inner.state[p] = {"exp_avg": torch.tensor(STATE.m), "exp_avg_sq": torch.tensor(STATE.v),
                      "step": torch.tensor(float(t))}
    p.grad = torch.tensor(grad)
    inner.step()
    fast = p.detach().numpy()
    after = instance.read()[0][0]
    assert after.t == t + 1
    np.testing.assert_allclose(after.theta, phi + 0.5 * (fast - phi), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(after.slow, after.theta)


def test_a_lookahead_wrapper_needs_an_inner_torch_optimizer() -> None:
    with pytest.raises(UsageError, match="'inner' must name a torch optimizer"):
        load_adapter("torch_optimizer:Lookahead", {"inner": "numpy:zeros"})


def test_a_wrapper_state_injected_before_its_first_sync_holds_no_slow_weights_until_it() -> None:
    """timm's Lookahead creates its slow weights at its first sync (step k): a state injected
    at t < k has none (the reading holds none yet), and the step that reaches k sets them to
    theta, which the sync leaves as it is."""
    k = 3
    adapter = load_adapter("radam_verify.timm_optim:Lookahead",
                           {"inner": "torch.optim:RAdam", "foreach": False, "k": k},
                           dtype="float64")
    adapter.slow_from = parse_convention(
        f"pytorch,lookahead_k={k},lookahead_start=first-sync").slow_from
    instance = adapter.open([GroupSpec(Hyper(), (STATE.theta,))])
    instance.inject([[ParamState(STATE.theta, STATE.m, STATE.v, k - 1)]])
    assert instance.read()[0][0].slow is None
    instance.step([[np.array([0.3, -0.1, 0.2])]])
    after = instance.read()[0][0]
    assert after.t == k
    assert after.slow is not None
    np.testing.assert_array_equal(after.slow, after.theta)
    assert not np.array_equal(after.theta, STATE.theta)  # the step itself moved theta


#: optax.lookahead around optax.adam, synced every 3 steps
OPTAX_LOOKAHEAD = {"inner": "optax:adam", "sync_period": 3, "slow_step_size": 0.5}


def test_optax_lookahead_reads_and_injects_fast_and_slow_weights_and_syncs_from_them() -> None:
    """The fast weights are theta and the slow ones are read beside the moments; injected
    at t = k - 1 with slow weights apart from theta, the next step is a sync: both become
    phi + alpha (theta' - phi), with theta' the inner transformation's step from the same
    state (to binary64's roundings: optax merges the sync into one update), and on the
    step after it the slow weights do not move."""
    pytest.importorskip("optax")
    adapter = load_adapter("optax:lookahead", OPTAX_LOOKAHEAD, "cpu", "float64")
    assert adapter.capabilities.slow_state
    wrapper = adapter.lookahead()
    assert wrapper is not None
    inner, k, alpha = wrapper
    assert inner is not None
    assert (inner.spec, k, alpha) == ("optax:adam", 3, 0.5)
    state = ParamState(STATE.theta, STATE.m, STATE.v, 2, slow=STATE.theta + 1.0)
    grad = np.array([0.3, -0.1, 0.2])
    instance = adapter.open([GroupSpec(Hyper(), (STATE.theta,))])
    instance.inject([[state]])
    back = instance.read()[0][0]
    assert back.t == 2
    for got, want in ((back.theta, state.theta), (back.slow, state.slow), (back.v, state.v)):
        assert np.array_equal(got, want)
    alone = inner.open([GroupSpec(Hyper(), (STATE.theta,))])
    alone.inject([[ParamState(STATE.theta, STATE.m, STATE.v, 2)]])
    alone.step([[grad]])
    theta_prime = alone.read()[0][0].theta
    instance.step([[grad]])
    synced = instance.read()[0][0]
    assert synced.slow is not None
    phi = state.slow + alpha * (theta_prime - state.slow)
    assert np.allclose(synced.slow, phi, rtol=1e-15, atol=0)
    assert np.allclose(synced.theta, phi, rtol=1e-15, atol=0)
    assert not np.allclose(synced.slow, theta_prime)  # the sync moved them
    instance.step([[grad]])
    assert np.array_equal(instance.read()[0][0].slow, synced.slow)


def test_identify_names_optax_lookaheads_inner_reading_k_alpha_and_start() -> None:
    pytest.importorskip("optax")
    found = identify(load_adapter("optax:lookahead", OPTAX_LOOKAHEAD, "cpu", "float64"))
    assert found.preset == "optax-adam,lookahead_k=3"
    assert found.axes["lookahead_start"] == "theta0"
    assert found.axes["lookahead_alpha"] == 0.5
    # JAX gives every parameter an update on every step: the count is not probed
    assert "lookahead_count" not in found.axes
    assert any(e.startswith("lookahead_count: the implementation gives every tensor")
               for e in found.evidence)


def test_optax_lookahead_needs_an_inner_optax_factory() -> None:
    pytest.importorskip("optax")
    with pytest.raises(UsageError, match="'inner' must name an optax factory"):
        load_adapter("optax:lookahead", {**OPTAX_LOOKAHEAD, "inner": "torch.optim:Adam"})


def test_optax_lookaheads_merged_sync_follows_the_exact_cycles_within_its_bound() -> None:
    """Three cycles of optax.lookahead in float32 from fast and slow weights far apart (the
    merged update's d = theta + u - phi is large, its roundings too): every fast and slow
    weight within the merged sync's bound of the exact trajectory."""
    pytest.importorskip("optax")
    from radam_verify.suite import checks
    from radam_verify.suite.scenario import Scenario

    adapter = load_adapter("optax:lookahead", OPTAX_LOOKAHEAD, "cpu", "float32")
    rng = np.random.default_rng(3)
    theta = rng.normal(size=64) * 100.0
    start = ParamState(theta, rng.normal(size=64) * 0.1, rng.random(64) * 0.01, 3,
                       slow=-theta + rng.normal(size=64))
    steps = tuple(((rng.normal(size=64),),) for _ in range(9))
    scenario = Scenario((GroupSpec(Hyper(lr=0.5), (theta,)),), steps,
                        start=((start,),))
    outcome = checks.exact(adapter, scenario, parse_convention(
        "optax-adam,scalars=float32,lookahead_k=3,lookahead_sync=merged"))
    assert outcome.conforms, outcome.worst()


def test_optax_float32_and_float64_adapters_in_one_process_keep_their_own_precision() -> None:
    """JAX's x64 mode is one global switch: a float32 optax adapter used after a float64 one
    (and the other way round) still steps in its own dtype, and identify tells them apart."""
    pytest.importorskip("optax")
    wide = load_adapter("optax:adam", dtype="float64")
    narrow = load_adapter("optax:adam", dtype="float32")
    for adapter, dtype in ((wide, np.float64), (narrow, np.float32), (wide, np.float64)):
        instance = adapter.open([GroupSpec(Hyper(), (STATE.theta,))])
        instance.step([[np.array([0.1, 0.2, 0.3])]])
        theta = instance.groups[0]["params"][0]  # type: ignore[attr-defined]
        assert theta.dtype == dtype
    assert identify(narrow).preset == "optax-adam,scalars=float32"
    assert identify(wide).preset == "optax-adam"


def test_compile_must_be_true_or_false() -> None:
    with pytest.raises(UsageError, match="'compile' must be true or false, not 'yes'"):
        load_adapter("torch.optim:Adam", {"compile": "yes"})


#: betas (0.9, 0.999) for the first step, then a schedule sets beta2 to 0.99 and to 0.9
_RETUNED = Scenario(
    (GroupSpec(Hyper(), (np.array([-1.0, -1.0, -1.0, 0.0]),)),),
    tuple(((np.array(g),),) for g in ([-1.0, -1.0, -1.0, 0.0], [-1.0, 0.0, -1.0, -1.0],
                                      [0.5, 0.5, 0.5, 0.5])),
    retuned=((1, (Hyper(beta2=0.99),)), (2, (Hyper(beta2=0.9),))))


def test_a_compiled_step_runs_through_dynamo_and_follows_the_exact_step() -> None:
    """With ``compile``, the constructor never sees the keyword, dynamo compiles the step,
    and the compiled step is judged as the eager one: within the bound of the reading
    identify finds for it (inductor forms the bias corrections in binary32)."""
    from radam_verify.adapters.torch_compiled import CompiledStep

    adapter = load_adapter("torch.optim:Adam", {"compile": True, "foreach": False})
    scenario = replace(_RETUNED, steps=_RETUNED.steps[:2], retuned=())
    outcome = checks.exact(adapter, scenario, parse_convention("adam,scalars=float32"))
    assert CompiledStep.compilations() >= 1
    assert outcome.conforms, outcome.worst()


def test_a_schedule_that_sets_beta2_twice_is_judged_with_each_value() -> None:
    """torch 2.13's compiled step keeps 1 - beta2 of the first change at the second
    (reports/repro/torch_compile_stale_beta2.py); the eager step uses each value. Each
    optimizer compiles from empty caches, so the example shows the same in any process."""
    eager = checks.exact(load_adapter("torch.optim:Adam", {"foreach": False}), _RETUNED,
                         parse_convention("adam"))
    assert eager.conforms, eager.worst()
    compiled = load_adapter("torch.optim:Adam", {"compile": True, "foreach": False})
    for _ in range(2):  # the second time after the first's compilations: the same verdict
        found = checks.exact(compiled, _RETUNED, parse_convention("adam,scalars=float32")).worst()
        assert found is not None
        assert found.judgement.worst is not None
        assert found.judgement.worst_ratio > 1e3  # far beyond any rounding
        assert (found.judgement.worst.quantity, found.judgement.worst.t) == ("v", 3)
