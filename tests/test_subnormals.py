"""Platforms that flush subnormals to zero: probed in the framework at start-up, shown in the
verdict, and judged as IEEE arithmetic with subnormals flushed unless
--verify-subnormals=ieee (derivations/error-model.md, section 10)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from radam_verify.adapters import GroupSpec, load_adapter
from radam_verify.conventions import parse_convention
from radam_verify.floats import BFLOAT16, FLOAT32, FLOAT64
from radam_verify.hyper import Hyper
from radam_verify.suite import checks
from radam_verify.suite.scenario import Scenario


def test_a_flushing_format_allows_an_absolute_error_of_the_smallest_normal_number() -> None:
    for fmt in (FLOAT32, FLOAT64):
        flushed = fmt.flushing()
        assert flushed.flushes
        assert not fmt.flushes
        assert flushed.eta == float(np.finfo(fmt.numpy_type).tiny)
        assert (flushed.u, flushed.name, flushed.numpy_type) == (fmt.u, fmt.name, fmt.numpy_type)
    # computed through binary32: binary32's flushed results too
    assert BFLOAT16.flushing().eta == BFLOAT16.smallest_normal + 2.0**-126


def test_torch_on_the_cpu_has_gradual_underflow_and_xla_flushes() -> None:
    assert load_adapter("torch.optim:RAdam").platform_flushes() is None
    found = load_adapter("optax:radam").platform_flushes()
    assert found is not None
    assert "XLA on the CPU flushes subnormal results and subnormal operands to zero" in found


def test_torch_after_set_flush_denormal_is_probed_as_flushing() -> None:
    code = ("import torch\n"
            "if not torch.set_flush_denormal(True): raise SystemExit(3)\n"
            "from radam_verify.adapters import load_adapter\n"
            "print(load_adapter('torch.optim:RAdam', dtype='float64').platform_flushes())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=300)
    if done.returncode == 3:
        pytest.skip("this CPU has no flush-to-zero mode (torch.set_flush_denormal returns False)")
    assert done.returncode == 0, done.stderr
    assert "torch on cpu flushes subnormal results and subnormal operands to zero in float64" in done.stdout


def test_a_subnormal_moment_flushed_by_xla_deviates_as_ieee_and_conforms_as_flushed() -> None:
    """optax with x64: a subnormal gradient makes m = (1 - b1) g subnormal, which XLA flushes
    to 0; against gradual underflow that is far outside the bound, against flushing within."""
    adapter = load_adapter("optax:radam", dtype="float64")
    assert adapter.platform_flushes() is not None
    scenario = Scenario((GroupSpec(Hyper(), (np.array([0.5, -0.25]),)),),
                        (((np.array([1e-310, -3e-312]),),),))
    convention = parse_convention("optax")
    strict = checks.exact(adapter, scenario, convention)
    assert not all(v.judgement.conforms for v in strict.verdicts)
    adapter.fmt = adapter.fmt.flushing()
    flushed = checks.exact(adapter, scenario, convention)
    assert all(v.judgement.conforms for v in flushed.verdicts)


def test_a_flushing_platform_is_judged_flushed_unless_ieee_and_its_cases_say_how() -> None:
    from radam_verify.suite.options import VerifyOptions, build_target
    from radam_verify.suite.target import case

    scenario = Scenario((GroupSpec(Hyper(), (np.array([0.5]),)),), (((np.array([1e-40]),),),))
    target, _ = build_target(VerifyOptions("optax:radam", convention="optax"))
    assert target.flushes_subnormals is not None
    assert target.adapter.fmt.flushes
    assert "judged as IEEE arithmetic with subnormals flushed" in target.platform()
    assert "subnormals" not in case(target, scenario)
    strict, _ = build_target(VerifyOptions("optax:radam", convention="optax", subnormals="ieee"))
    assert not strict.adapter.fmt.flushes
    assert "judged strictly" in strict.platform()
    assert case(strict, scenario)["subnormals"] == "ieee"
    plain, _ = build_target(VerifyOptions("torch.optim:RAdam", convention="pytorch"))
    assert plain.flushes_subnormals is None
    assert plain.platform() == "IEEE gradual underflow (probed)"


def test_optax_lookaheads_merged_sync_flushes_a_subnormal_slow_weight_between_syncs() -> None:
    """optax.lookahead adds alpha * 0 * d to the slow weights on every step: exact under
    gradual underflow, but XLA flushes a subnormal slow weight to 0 on the first step. A
    copied sync leaves phi alone between syncs, so its bound rejects that even as flushed;
    the merged reading (lookahead_sync=merged, error-model.md, section 2) allows it."""
    adapter = load_adapter("optax:lookahead", {"inner": "optax:adam", "sync_period": 3,
                                               "slow_step_size": 0.5}, dtype="float64")
    assert adapter.platform_flushes() is not None
    adapter.fmt = adapter.fmt.flushing()
    scenario = Scenario((GroupSpec(Hyper(), (np.array([0.5, 3e-310]),)),),
                        (((np.array([0.25, -0.5]),),),))
    copied = checks.exact(adapter, scenario, parse_convention("optax-adam,lookahead_k=3"))
    assert not copied.conforms
    worst = copied.worst()
    assert worst is not None
    assert worst.judgement.worst is not None
    assert (worst.judgement.worst.quantity, worst.judgement.worst.index) == ("slow", 1)
    merged = checks.exact(adapter, scenario,
                          parse_convention("optax-adam,lookahead_k=3,lookahead_sync=merged"))
    assert merged.conforms
