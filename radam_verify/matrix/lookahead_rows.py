"""Lookahead's implementations in the matrix: pytorch-ranger's and pytorch-optimizer's Ranger
(Lookahead over RAdam).

Lookahead's k and alpha are the implementation's constructor arguments, not hyperparameters
the suite draws, and the probes do not look for slow weights: each row names its reading
(``documented``), with the source it follows. Each finding explains a deviation with a
stand-alone script in ``reports/repro/``; the findings every torch optimizer inherits are
added by :mod:`radam_verify.matrix.configurations`.
"""

from __future__ import annotations

from collections.abc import Mapping

from radam_verify.matrix.rows import Configuration, Finding, and_float64

RANGER_SHARED_STEP_SIZE = Finding(
    "pytorch-ranger caches (step, N_sma, step_size) in one radam_buffer for the whole "
    "optimizer, indexed by step % 10 and filled by whichever tensor reaches that step first: "
    "a group whose betas differ takes that tensor's N_sma and step size instead of its own",
    "pytorch_ranger_shared_step_size.py", "test_parameter_groups")
RANGER_CLOSURE = Finding(
    "Ranger.step(closure) never calls its closure (the two lines that would are commented "
    "out) and returns None",
    "pytorch_ranger_closure_not_called.py", "test_step_calls_its_closure")
RANGER_FLOAT64 = Finding(
    "Ranger works on p.grad.data.float() and p.data.float() and keeps exp_avg and exp_avg_sq "
    "in float32: a float64 parameter gets a float32 update and float32 moments, some 10^8 "
    "float64 ulps from the exact step",
    "pytorch_ranger_float64_in_float32.py", when=r"observed")

_RANGER = ("pytorch_ranger/ranger.py: RAdam with N_sma > N_sma_threshhold = 5, an SGD step "
           "lr m_hat below it, eps beside sqrt(v), p *= 1 - wd lr, then Lookahead with k = 6, "
           "alpha = 0.5 over slow_buffer, copied from p at its first step, synced when "
           "state['step'] % k == 0 (the ranger preset)")

PO_RANGER_ASCENT = Finding(
    "below the threshold with degenerated_to_sgd=False (the default), get_rectify_step_size "
    "returns rt = -1, so step_size = -lr / (1 - beta1^t), and Ranger's step runs "
    "p.add_(exp_avg, alpha=-step_size) = theta + lr m_hat: an ascent step on every step "
    "before rectification (pytorch-optimizer's RAdam skips a negative step size; Ranger does "
    "not)",
    "pytorch_optimizer_ranger_ascent_below_threshold.py",
    # theta off with m and v exact (a centralised gradient changes the moments first)
    when=r"theta\[\d+\] after step")
PO_RANGER_GC = Finding(
    "use_gc=True (the default) centralises every gradient of more than one dimension before "
    "the moments are updated (the mean over its other dimensions subtracted, "
    "gradient_centralization.py), in p.grad itself: documented, and not a reading of RAdam "
    "with Lookahead, so those tensors' moments and steps follow another gradient",
    "pytorch_optimizer_ranger_gradient_centralization.py", when=r"^group \d+, tensor \d+: [mv]\[")

_PO_RANGER = ("pytorch_optimizer/optimizer/ranger.py: RAdam with n_sma >= n_sma_threshold = 5, "
              "an SGD step lr m_hat below it (degenerated_to_sgd=True), eps beside sqrt(v), "
              "p *= 1 - lr wd (weight_decouple=True), then Lookahead with k = 6, alpha = 0.5 "
              "over slow_buffer = p.clone() made before the first step, synced when the "
              "group's step % k == 0 (official-sgd with Lookahead's k and alpha)")
_PO_READING = "official-sgd,lookahead_k=6,lookahead_alpha=0.5"


RANGER_CONFIGURATIONS: tuple[Configuration, ...] = (
    Configuration("default", "pytorch_ranger:Ranger", convention="ranger", documented=_RANGER,
                  # a float64 tensor in a group of float32 ones is stepped in float32 too
                  findings=(RANGER_SHARED_STEP_SIZE, RANGER_CLOSURE,
                            RANGER_FLOAT64.at("test_a_tensor_of_another_dtype"))),
    Configuration("default", "pytorch_ranger:Ranger", dtype="float64", convention="ranger",
                  documented=_RANGER,
                  findings=(RANGER_FLOAT64, RANGER_SHARED_STEP_SIZE, RANGER_CLOSURE)),
)

def lookahead_configurations(po_maximize: Finding) -> tuple[Configuration, ...]:
    """pytorch-ranger's Ranger, and pytorch-optimizer's Ranger: its default (an ascent step
    below the threshold, gradients centralised), with degenerated_to_sgd=True, and with
    use_gc=False besides (its reading, with the maximize finding of pytorch-optimizer's
    RAdam), each in float32 and float64."""
    maximize = po_maximize.at("test_step_leaves_gradients")
    return (*RANGER_CONFIGURATIONS, *and_float64(
        Configuration("default", "pytorch_optimizer:Ranger", convention=_PO_READING,
                      documented=_PO_RANGER,
                      findings=(maximize, PO_RANGER_GC, PO_RANGER_ASCENT)),
        Configuration("degenerated_to_sgd=True", "pytorch_optimizer:Ranger",
                      {"degenerated_to_sgd": True}, convention=_PO_READING,
                      documented=_PO_RANGER, findings=(maximize, PO_RANGER_GC)),
        Configuration("degenerated_to_sgd=True, use_gc=False", "pytorch_optimizer:Ranger",
                      {"degenerated_to_sgd": True, "use_gc": False}, convention=_PO_READING,
                      documented=_PO_RANGER, findings=(maximize,))))


#: Lookahead implementations that were considered and are not in the matrix yet, and why
LOOKAHEAD_NOT_RUN: Mapping[str, str] = {
    "Lookahead wrappers (pytorch-optimizer, torch-optimizer, timm) and optax.lookahead": (
        "they wrap an optimizer instance (or, in optax, a LookaheadParams pair of fast and "
        "slow weights) and keep the inner optimizer's moments in that optimizer's state, "
        "which the torch and optax adapters do not reach yet: timm's Lookahead keeps its "
        "lookahead_slow_buff in the inner state, created at the first sync (a one-step probe "
        "does not see it), torch-optimizer's keeps slow_param in its own state; both count "
        "steps per group (timm's lookahead_step, torch-optimizer's counter modulo k), which "
        "an injected state must set; their readings are expressed (lookahead_start theta0, "
        "first-step and first-sync: README, Conventions)"),
}
