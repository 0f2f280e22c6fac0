"""Adapters: state layout found by inspection, state read and injected exactly, optax and
the protocol, and identification of each preset and of a defect no convention explains."""

from __future__ import annotations

import numpy as np
import pytest

from radam_verify.adapters import GroupSpec, ParamState, load_adapter
from radam_verify.conventions import PRESETS
from radam_verify.errors import UsageError
from radam_verify.hyper import Hyper
from radam_verify.identify import identify

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


@pytest.mark.parametrize("preset", list(PRESETS))
def test_identify_names_the_preset_of_each_reimplementation(preset: str) -> None:
    found = identify(load_adapter("radam_verify.impls:ReferenceRAdam", {"convention": preset}))
    assert found.preset == preset
    assert found.axes["threshold"] == PRESETS[preset].threshold
    assert found.axes["comparison"] is None  # no probe can separate > from >=
    assert "comparison" in found.undetermined


@pytest.mark.parametrize(("kwargs", "preset"), [({}, "pytorch"),
                                                 ({"decoupled_weight_decay": True}, "official-sgd")])
def test_identify_names_torch_radam(kwargs: dict[str, object], preset: str) -> None:
    assert identify(load_adapter("torch.optim:RAdam", kwargs)).preset == preset


def test_identify_names_optax_radam_in_float64() -> None:
    pytest.importorskip("optax")
    assert identify(load_adapter("optax:radam", dtype="float64")).preset == "optax"


def test_identify_returns_null_for_swapped_betas() -> None:
    found = identify(load_adapter("radam_verify.impls.defects:SwappedBetas"))
    assert found.preset is None
    assert not found.consistent
    assert all(value is None for value in found.axes.values())
    assert "no convention reproduces every probe" in found.evidence[-1]


def test_a_protocol_class_without_step_is_not_an_optimizer() -> None:
    with pytest.raises(UsageError, match="is not an optimizer"):
        load_adapter("radam_verify.hyper:Hyper")
