"""Conventions: the presets' axes and the NAME[,axis=value] syntax."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from radam_verify.conventions import PRESETS, Convention, parse_convention
from radam_verify.errors import ConventionError, OutOfDomainError
from radam_verify.hyper import Hyper

# The axes as the table and the cited source code give them.
EXPECTED = {
    "paper": (4.0, ">", "sgd", "raw", "l2"),
    "pytorch": (5.0, ">", "sgd", "raw", "l2"),
    "official": (5.0, ">=", "skip", "raw", "decoupled"),
    "official-sgd": (5.0, ">=", "sgd", "raw", "decoupled"),
    "optax": (5.0, ">=", "sgd", "hat", "none"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_has_the_axes_of_the_code_it_names(name: str) -> None:
    c = parse_convention(name)
    assert (c.threshold, c.comparison, c.below, c.eps, c.weight_decay) == EXPECTED[name]


# Adam's presets: eps placement, weight decay, AMSGrad's maximum and the bias corrections,
# from the code each names (conventions.py).
EXPECTED_ADAM = {
    "adam": ("hat", "l2", "none", True),
    "adamw": ("hat", "decoupled", "none", True),
    "keras-adam": ("raw", "decoupled", "none", True),
    "optax-adam": ("hat", "none", "none", True),
    "amsgrad": ("hat", "l2", "v", True),
    "optax-amsgrad": ("hat", "none", "v_hat", True),
    "amsgrad-paper": ("hat", "none", "v", False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_ADAM))
def test_adam_preset_has_the_axes_of_the_code_it_names(name: str) -> None:
    c = parse_convention(name)
    assert c.algorithm == "adam"
    assert (c.eps, c.weight_decay, c.amsgrad, c.bias_correction) == EXPECTED_ADAM[name]
    assert c.axes() == {"algorithm": "adam", "eps": c.eps, "weight_decay": c.weight_decay,
                        "amsgrad": c.amsgrad, "bias_correction": c.bias_correction,
                        "scalars": "float64"}
    assert c.keeps_max == (c.amsgrad != "none")


def test_amsgrad_is_adams_axis_and_its_maximum_of_v_hat_takes_eps_on_that_root() -> None:
    assert parse_convention("keras-adam,amsgrad=v").spec == "keras-adam,amsgrad=v"
    with pytest.raises(ConventionError, match="axis 'amsgrad' is Adam's and does not apply "
                                              "to radam"):
        parse_convention("pytorch,amsgrad=v")
    with pytest.raises(ConventionError, match="use eps=hat"):
        parse_convention("keras-adam,amsgrad=v_hat")
    with pytest.raises(ConventionError, match="unknown value 'max' for axis 'amsgrad'"):
        parse_convention("adam,amsgrad=max")


def test_scalars_in_binary32_are_a_reading_of_either_algorithm() -> None:
    assert parse_convention("adam,scalars=float32").float32_scalars
    assert parse_convention("pytorch,scalars=float32").spec == "pytorch,scalars=float32"
    assert not PRESETS["pytorch"].float32_scalars
    with pytest.raises(ConventionError, match="unknown value 'bfloat16' for axis 'scalars'"):
        parse_convention("adam,scalars=bfloat16")


def test_hyperparameters_held_in_binary32_are_the_rounded_numbers_and_only_in_that_reading(
        ) -> None:
    """``scalars=float32-held``: every hyperparameter is the binary32 number nearest the one
    given (computed here with struct's IEEE single packing, not numpy), the scalars formed
    in binary32; the other readings hold the hyperparameters as given."""
    given = Hyper(lr=3e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, maximize=True)
    held = parse_convention("adamw,scalars=float32-held")
    assert held.spec == "adamw,scalars=float32-held"
    assert held.float32_scalars

    def single(x: float) -> float:
        rounded: float = struct.unpack("<f", struct.pack("<f", x))[0]
        return rounded

    assert held.held(given) == Hyper(*(single(x) for x in (3e-3, 0.9, 0.999, 1e-8, 0.01)),
                                     maximize=True)
    assert held.held(given).beta2 != given.beta2  # 0.999 is not a binary32 number
    for other in ("adamw", "adamw,scalars=float32", "pytorch"):
        assert parse_convention(other).held(given) == given


def test_a_beta_held_in_binary32_as_one_is_out_of_the_readings_domain() -> None:
    """beta2 = 1 - 2^-26 is a binary64 number below 1 whose nearest binary32 number is 1:
    1 - beta2^t = 0 there, so the held reading's step is undefined."""
    beta2 = 1 - 2.0**-26
    assert beta2 < 1
    with pytest.raises(OutOfDomainError, match="rounds to 1"):
        parse_convention("adam,scalars=float32-held").held(Hyper(beta2=beta2))
    assert parse_convention("adam").held(Hyper(beta2=beta2)).beta2 == beta2


def test_decay_merged_into_the_update_is_decoupled_decay_scaled_by_lr() -> None:
    merged = parse_convention("optax-adam,weight_decay=merged")
    assert merged.decays_with_lr
    assert PRESETS["adamw"].decays_with_lr
    assert not PRESETS["pytorch"].decays_with_lr
    assert parse_convention(merged.spec) == merged


def test_an_adam_convention_rejects_the_axes_only_radam_reads() -> None:
    with pytest.raises(ConventionError, match="does not apply to adam"):
        Convention(threshold=4.0, algorithm="adam")
    with pytest.raises(ConventionError, match="unknown value 'nadam' for axis 'algorithm'"):
        Convention(algorithm="nadam")  # type: ignore[arg-type]


def test_official_skips_decay_on_skipped_steps_and_its_sgd_variant_does_not() -> None:
    assert PRESETS["official"].decay_on_skip is False
    assert PRESETS["official-sgd"].decay_on_skip is True


def test_an_override_changes_only_its_axis() -> None:
    c = parse_convention("pytorch,weight_decay=decoupled")
    assert c.weight_decay == "decoupled"
    assert (c.threshold, c.comparison, c.below, c.eps) == EXPECTED["pytorch"][:4]
    assert c.spec == "pytorch,weight_decay=decoupled"


def test_spec_round_trips_through_the_parser() -> None:
    for spec in ["paper", "official,threshold=4,comparison=>", "optax,decay_on_skip=false",
                 "adamw,eps=raw", "keras-adam,weight_decay=l2", "adam,scalars=float32",
                 "pytorch,scalars=float32"]:
        c = parse_convention(spec)
        assert parse_convention(c.spec) == c


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("nadam", "unknown convention 'nadam'"),
        ("adam,threshold=4", "'threshold' is RAdam's and does not apply to adam"),
        ("adamw,below=skip", "'below' is RAdam's and does not apply to adam"),
        ("pytorch,thresh=4", "unknown axis 'thresh'"),
        ("pytorch,eps=inside", "unknown value 'inside' for axis 'eps'"),
        ("pytorch,threshold=3", "below 4"),
        ("pytorch,threshold=five", "threshold must be a number"),
        ("pytorch,below", "expected axis=value"),
    ],
)
def test_bad_specification_is_a_clear_error(spec: str, fragment: str) -> None:
    with pytest.raises(ConventionError, match=fragment.replace("(", r"\(")):
        parse_convention(spec)


def test_comparison_decides_only_exact_ties() -> None:
    strict, loose = Convention(comparison=">"), Convention(comparison=">=")
    assert [strict.rectifies(s) for s in (-1, 0, 1)] == [False, False, True]
    assert [loose.rectifies(s) for s in (-1, 0, 1)] == [False, True, True]


def test_lookahead_sync_is_lookaheads_axis_copy_unless_merged_is_named() -> None:
    merged = parse_convention("optax-adam,lookahead_k=6,lookahead_sync=merged")
    assert merged.lookahead_sync == "merged"
    assert merged.spec == "optax-adam,lookahead_k=6,lookahead_sync=merged"
    assert parse_convention("ranger").lookahead_sync == "copy"
    with pytest.raises(ConventionError, match="lookahead_count apply to Lookahead"):
        parse_convention("adam,lookahead_sync=merged")
    with pytest.raises(ConventionError, match="unknown value 'fused' for axis 'lookahead_sync'"):
        parse_convention("adam,lookahead_k=2,lookahead_sync=fused")


def test_bias_correction_names_the_moment_it_divides_where_only_one_is() -> None:
    """``bias_correction=m`` or ``v`` divides only that moment (optax's amsgrad flags); the
    spec keeps the letter, the JSON axes too, and other values are refused with the choices."""
    c = parse_convention("optax-amsgrad,bias_correction=v")
    assert (c.corrects_m, c.corrects_v) == (False, True)
    assert c.spec == "optax-amsgrad,bias_correction=v"
    assert c.axes()["bias_correction"] == "v"
    m_only = parse_convention("adam,bias_correction=m")
    assert (m_only.corrects_m, m_only.corrects_v) == (True, False)
    assert parse_convention("adam,bias_correction=true").bias_correction is True
    with pytest.raises(ConventionError, match="choose one of: true, false, m, v"):
        parse_convention("adam,bias_correction=mu")


def _timm_syncs(group_step: int, k: int, has_grad: bool) -> bool:
    """timm's Lookahead.step: 'lookahead_step' += 1 per group, update_slow when it is a
    multiple of k, which passes over a tensor whose grad is None."""
    return group_step % k == 0 and has_grad


def _torch_optimizer_pulls(group_step: int, k: int) -> bool:
    """torch-optimizer's Lookahead.step: _update(group) when 'counter' is 0 (before it is
    advanced modulo k), every tensor of the group."""
    counter = (group_step - 1) % k
    return counter == 0


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_group_counted_lookahead_follows_each_librarys_rule(k: int) -> None:
    timm = parse_convention(f"pytorch,lookahead_k={k},lookahead_start=first-sync,"
                            "lookahead_count=group")
    torch_optimizer = parse_convention(f"pytorch,lookahead_k={k},lookahead_start=first-step,"
                                       "lookahead_count=group-all")
    for clock in range(1, 4 * k + 3):
        for stepped in (True, False):
            for t in range(clock + 1):  # the tensor's own count: at most the group's
                for holds in (True, False):
                    got = timm.lookahead_action(t, clock, stepped=stepped, holds=holds)
                    want = _timm_syncs(clock, k, stepped)
                    assert (got != "none") == want
                    assert got in ("none", "sync" if holds else "set")
                    got = torch_optimizer.lookahead_action(t, clock, stepped=stepped,
                                                           holds=holds)
                    assert (got != "none") == _torch_optimizer_pulls(clock, k)
                    assert got in ("none", "sync" if holds else "set")


def test_lookahead_counted_per_tensor_ignores_the_groups_count() -> None:
    ranger = parse_convention("ranger")
    assert ranger.lookahead_count == "tensor"
    assert ranger.lookahead_action(6, clock=7) == "sync"
    assert ranger.lookahead_action(5, clock=6) == "none"
    assert ranger.lookahead_action(6, clock=6, stepped=False) == "none"
    assert "lookahead_count" not in ranger.axes()
    grouped = parse_convention("ranger,lookahead_count=group-all")
    assert grouped.axes()["lookahead_count"] == "group-all"
    assert grouped.spec == "ranger,lookahead_count=group-all"
    with pytest.raises(ConventionError, match="unknown value 'layer' for axis 'lookahead_count'"):
        parse_convention("ranger,lookahead_count=layer")


def test_a_reading_with_lr_held_in_binary32_rounds_lr_alone() -> None:
    reading = parse_convention("keras-adam,scalars=float32-lr")
    assert not reading.float32_scalars  # the scalars are formed in binary64
    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0.004)
    held = reading.held(hyper)
    assert held.lr == float(np.float32(1e-3)) != 1e-3
    assert (held.beta1, held.beta2, held.eps, held.weight_decay) == (0.9, 0.999, 1e-7, 0.004)
    everything = parse_convention("keras-adam,scalars=float32-held").held(hyper)
    assert everything.beta2 == float(np.float32(0.999)) != held.beta2
    with pytest.raises(OutOfDomainError, match="overflows binary32"):
        reading.held(Hyper(lr=1e39))


def test_a_reading_with_the_betas_held_in_binary32_rounds_beta1_beta2_and_eps_alone() -> None:
    """PaddlePaddle's kernels take beta1, beta2 and epsilon as float attributes: on float64
    parameters those three are binary32 numbers, lr and the weight decay binary64, and the
    scalars are formed in binary64."""
    reading = parse_convention("pytorch,scalars=float32-betas")
    assert not reading.float32_scalars
    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0.004)
    held = reading.held(hyper)
    assert (held.beta1, held.beta2, held.eps) == tuple(
        float(np.float32(x)) for x in (0.9, 0.999, 1e-7))
    assert (held.lr, held.weight_decay) == (1e-3, 0.004)
    with pytest.raises(OutOfDomainError, match="rounds to 1"):
        reading.held(Hyper(beta2=1 - 1e-9))


def test_running_powers_are_an_axis_of_every_algorithm_shown_only_where_they_run() -> None:
    for preset in ("pytorch", "adam", "lamb"):
        assert "powers" not in PRESETS[preset].axes()
        running = parse_convention(f"{preset},powers=running")
        assert running.axes()["powers"] == "running"
        assert running.spec == f"{preset},powers=running"
    with pytest.raises(ConventionError, match="unknown value 'product' for axis 'powers'"):
        parse_convention("pytorch,powers=product")
