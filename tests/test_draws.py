"""The suite's drawn examples shrink as its counterexamples promise: towards the fewest and
smallest tensors that still show a failure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import find, settings

from radam_verify.adapters import load_adapter
from radam_verify.conventions import PRESETS
from radam_verify.suite import draws
from radam_verify.suite.profiles import PROFILES
from radam_verify.suite.target import Target


def test_a_drawn_group_shrinks_to_its_smallest_tensor_that_shows_a_tail_defect() -> None:
    """Hypothesis shrinks a drawn group (one to three tensors of the shapes where kernels
    change path) to the fewest and smallest tensors that still show a failure: for a
    defect of a 16-lane kernel's tail, one tensor of 17 elements."""
    pytest.importorskip("torch")
    target = Target(load_adapter("torch.optim:RAdam", {}, "cpu", "float32"), PRESETS["pytorch"],
                    "given", PROFILES["quick"], 0)

    def tail_shown(scenario: Any) -> bool:
        return any(np.size(p) > 16 and np.size(p) % 16 for p in scenario.groups[0].params)

    found = find(draws.sized(target), tail_shown, settings=settings(database=None, derandomize=True))
    assert [np.shape(p) for p in found.groups[0].params] == [(17,)]
