"""Lookahead counted per parameter group, on the real wrappers: timm's and pytorch-optimizer's
pass over a tensor without a gradient at their group's sync, torch-optimizer's pulls every
tensor of the group. On a group whose second tensor misses steps around the syncs, each
wrapper follows its own reading and deviates from the other two counts; the matrix rows
(``radam_verify/matrix/lookahead_rows.py``) state the readings, and the parameter-groups
property draws such groups for every row."""

from __future__ import annotations

import numpy as np
import pytest

from radam_verify.adapters import GroupSpec, load_adapter
from radam_verify.conventions import LOOKAHEAD_COUNTS, parse_convention
from radam_verify.hyper import Hyper
from radam_verify.suite import checks
from radam_verify.suite.scenario import Scenario

pytest.importorskip("torch")

K = 3
#: each wrapper's module, where its reading starts the slow weights, and its count
WRAPPERS = {
    "timm": ("radam_verify.timm_optim:Lookahead", "first-sync", "group"),
    "pytorch-optimizer": ("pytorch_optimizer:Lookahead", "theta0", "group"),
    "torch-optimizer": ("torch_optimizer:Lookahead", "first-step", "group-all"),
}


def _scenario() -> Scenario:
    """One group of two tensors over 3k + 1 steps; the second has no gradient on steps 1, k,
    k + 1 and 2k (the first syncs of every start and count), nor on the last one."""
    rng = np.random.default_rng(14)
    missing = {0, K - 1, K, 2 * K - 1, 3 * K}
    steps = tuple(((rng.normal(size=4), None if k in missing else rng.normal(size=2)),)
                  for k in range(3 * K + 1))
    group = GroupSpec(Hyper(lr=1e-2, beta1=0.9, beta2=0.99),
                      (rng.normal(size=4), rng.normal(size=2)))
    return Scenario((group,), steps)


@pytest.mark.parametrize("library", sorted(WRAPPERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_wrapper_follows_its_own_count_of_the_groups_steps_and_no_other(
        library: str, dtype: str) -> None:
    spec, start, count = WRAPPERS[library]
    pytest.importorskip(spec.split(":")[0].split(".")[0])
    adapter = load_adapter(spec, {"inner": "torch.optim:RAdam", "foreach": False, "k": K,
                                  "alpha": 0.5}, dtype=dtype)
    scenario = _scenario()
    verdicts = {}
    for other in LOOKAHEAD_COUNTS:
        reading = parse_convention(f"pytorch,lookahead_k={K},lookahead_start={start},"
                                   f"lookahead_count={other}")
        adapter.slow_from = reading.slow_from
        verdicts[other] = checks.exact(adapter, scenario, reading)
    assert verdicts[count].conforms, verdicts[count].worst()
    for other in LOOKAHEAD_COUNTS:
        if other != count:
            outcome = verdicts[other]
            assert not outcome.conforms, other
            worst = outcome.worst()
            assert worst is not None
            assert worst.param == 1  # the tensor that misses steps
