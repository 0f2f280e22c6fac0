"""Strided views are the layouts they name: their index maps are what numpy and torch see.

The views property (``radam_verify/suite/test_views.py``) places parameters by
:mod:`radam_verify.views`; these tests check that map independently: each view's elements
are distinct storage elements inside the storage, the same ones numpy's and torch's
``as_strided`` reach, torch recognises channels_last and transposed layouts as such, the
canaries are exact in every format down to bfloat16, and a scenario with placements
survives its JSON form.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radam_verify.adapters import GroupSpec
from radam_verify.hyper import Hyper
from radam_verify.suite.draws import SHAPES
from radam_verify.suite.scenario import Scenario, scenario_from_json, scenario_json
from radam_verify.views import Placement, canaries, kinds_for, strided


@st.composite
def views(draw: st.DrawFn) -> tuple[str, tuple[int, ...], int, int, int]:
    shape = draw(st.sampled_from([s for s in SHAPES if np.prod(s) <= 4097]))
    kind = draw(st.sampled_from(kinds_for(shape)))
    return kind, shape, draw(st.integers(2, 4)), draw(st.integers(0, 5)), draw(st.integers(0, 5))


@given(views())
def test_a_view_reaches_distinct_storage_elements_as_numpy_as_strided_does(
        drawn: tuple[str, tuple[int, ...], int, int, int]) -> None:
    kind, shape, step, offset, gap = drawn
    view = strided(kind, shape, step=step, offset=offset, gap=gap)
    index = view.indices()
    assert index.size == int(np.prod(shape))
    assert np.unique(index).size == index.size  # no element twice: the view does not overlap
    assert index.min(initial=view.size) >= offset
    assert index.max(initial=0) < view.size
    storage = np.arange(view.size, dtype=np.int64)
    seen = np.lib.stride_tricks.as_strided(storage[view.offset:], view.shape,
                                           [8 * s for s in view.strides])
    assert np.array_equal(seen.reshape(-1), index)
    values = np.arange(index.size, dtype=np.float64) + 0.5
    placed = view.place(values)
    assert np.array_equal(placed[index], values)
    outside = view.outside()
    assert outside.size + index.size == view.size
    assert np.array_equal(placed[outside], canaries(view.size)[outside])


@given(views())
def test_torch_sees_the_same_elements_in_the_same_order(
        drawn: tuple[str, tuple[int, ...], int, int, int]) -> None:
    torch = pytest.importorskip("torch")
    kind, shape, step, offset, gap = drawn
    view = strided(kind, shape, step=step, offset=offset, gap=gap)
    storage = torch.arange(view.size, dtype=torch.float64)
    seen = storage.as_strided(view.shape, view.strides, view.offset)
    assert np.array_equal(seen.reshape(-1).numpy(), view.indices().astype(np.float64))


def test_the_layouts_are_what_torch_calls_them() -> None:
    torch = pytest.importorskip("torch")
    shape = (8, 3, 17, 19)

    def tensor(kind: str) -> object:
        view = strided(kind, shape)
        return torch.zeros(view.size).as_strided(view.shape, view.strides, view.offset)

    assert tensor("channels_last").is_contiguous(memory_format=torch.channels_last)
    assert not tensor("channels_last").is_contiguous()
    assert tensor("transposed").permute(3, 2, 1, 0).is_contiguous()
    assert tensor("inside").is_contiguous()
    for kind in ("every-k", "padded-rows", "transposed", "channels_last"):
        assert not tensor(kind).is_contiguous(), kind


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_canaries_are_exact_and_differ_from_their_neighbours(dtype: str) -> None:
    values = canaries(64)
    assert np.array_equal(values.astype(dtype).astype(np.float64), values)
    torch = pytest.importorskip("torch")
    bf16 = torch.tensor(values).to(torch.bfloat16).to(torch.float64).numpy()
    assert np.array_equal(bf16, values)
    assert np.all(values[1:] != values[:-1])
    assert np.all(values < 0)


def test_a_scenario_keeps_its_placements_through_json() -> None:
    theta = np.arange(12, dtype=np.float64).reshape(3, 4) / 8
    where = Placement(strided("padded-rows", (3, 4), offset=2, gap=3), strided("transposed", (3, 4)))
    scenario = Scenario((GroupSpec(Hyper(), (theta,), (where,)),), (((theta / 2,),),))
    back = scenario_from_json(scenario_json(scenario))
    assert back.groups[0].placements == (where,)
    assert back.groups[0].params[0].shape == (3, 4)
    assert np.array_equal(back.groups[0].params[0], theta)


def test_an_unknown_kind_or_a_shape_it_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown view kind"):
        strided("diagonal", (3,))
    with pytest.raises(ValueError, match="four dimensions"):
        strided("channels_last", (3, 4))
    with pytest.raises(ValueError, match="two dimensions"):
        strided("padded-rows", (5,))


def test_a_scenario_keeps_the_hyperparameters_a_schedule_sets_through_json() -> None:
    theta = np.array([0.5, -1.0])
    scenario = Scenario((GroupSpec(Hyper(), (theta,)),), (((theta,),), ((theta,),)),
                        retuned=((1, (Hyper(lr=0.5, beta2=0.9, weight_decay=0.25),)),))
    back = scenario_from_json(scenario_json(scenario))
    assert back.retuned == scenario.retuned
    assert [g.hyper for g in back.groups_at(0)] == [Hyper()]
    assert [g.hyper for g in back.groups_at(1)] == [Hyper(lr=0.5, beta2=0.9, weight_decay=0.25)]
