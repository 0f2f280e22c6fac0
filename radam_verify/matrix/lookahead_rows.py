"""Lookahead's implementations in the matrix: pytorch-ranger's and pytorch-optimizer's Ranger
(Lookahead over RAdam), timm's, torch-optimizer's and pytorch-optimizer's Lookahead
wrapped around torch.optim.RAdam, and optax.lookahead around optax.adam.

Lookahead's k and alpha are the implementation's constructor arguments, not hyperparameters
the suite draws, and the probes do not look for slow weights: each row names its reading
(``documented``), with the source it follows. Each finding explains a deviation with a
stand-alone script in ``reports/repro/``; the findings every torch optimizer inherits are
added by :mod:`radam_verify.matrix.configurations`.
"""

from __future__ import annotations

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

TO_LOOKAHEAD_ADDED_GROUP = Finding(
    "torch-optimizer's Lookahead sets group['counter'] only in the groups its inner optimizer "
    "holds when it is built, and add_param_group is torch.optim.Optimizer's: a group added "
    "later has no 'counter', so the next step() raises KeyError after the inner optimizer has "
    "stepped every group",
    "torch_optimizer_lookahead_added_group.py", "test_parameter_groups",
    when=r"KeyError: 'counter'")
TO_LOOKAHEAD_STATE_DICT = Finding(
    "Lookahead subclasses torch.optim.Optimizer without calling its __init__, and its "
    "state_dict() calls Optimizer.state_dict, which since torch 2.0 reads "
    "self._optimizer_state_dict_pre_hooks: state_dict() raises AttributeError, so its state "
    "can be neither saved nor loaded",
    "torch_optimizer_lookahead_state_dict.py", when=r"_optimizer_state_dict_pre_hooks")

_TIMM_LOOKAHEAD = ("timm/optim/lookahead.py: after the inner step, 'lookahead_step' += 1 in "
                   "each group and when it is a multiple of lookahead_k = 6, every tensor "
                   "with a gradient gets slow += alpha (fast - slow), fast = slow, alpha = "
                   "0.5, its lookahead_slow_buff created from fast at that first sync "
                   "(lookahead_start=first-sync), the steps counted per group and tensors "
                   "without a gradient passed over (lookahead_count=group); over "
                   "torch.optim.RAdam's for-loop path (the pytorch preset)")
_TIMM_READING = ("pytorch,lookahead_k=6,lookahead_alpha=0.5,lookahead_start=first-sync,"
                 "lookahead_count=group")
_TO_LOOKAHEAD = ("torch_optimizer/lookahead.py: after the inner step, when the group's "
                 "'counter' is 0 (steps 1, k + 1, 2k + 1, ... with k = 5), fast = alpha fast + "
                 "(1 - alpha) slow and slow = fast, alpha = 0.5, slow_param cloned from fast "
                 "at step 1 (lookahead_start=first-step), for every tensor of the group, "
                 "with a gradient or without (lookahead_count=group-all); over "
                 "torch.optim.RAdam's for-loop path (the pytorch preset)")
_TO_READING = ("pytorch,lookahead_k=5,lookahead_alpha=0.5,lookahead_start=first-step,"
               "lookahead_count=group-all")
_PO_LOOKAHEAD = ("pytorch_optimizer/optimizer/lookahead.py: slow_params cloned from each "
                 "parameter when the wrapper is built (lookahead_start=theta0); after the "
                 "inner step, the group's 'counter' += 1 and when it reaches k = 5 it is reset "
                 "and the tensors with a gradient get fast = lerp(fast, slow, 1 - alpha), "
                 "slow = fast, alpha = 0.5 (lookahead_count=group); over torch.optim.RAdam's "
                 "for-loop path (the pytorch preset)")
_PO_LOOKAHEAD_READING = "pytorch,lookahead_k=5,lookahead_alpha=0.5,lookahead_count=group"
#: the wrapped optimizer, on one code path (the inner optimizer's own paths have rows)
_OVER_RADAM = {"inner": "torch.optim:RAdam", "foreach": False}


def lookahead_configurations(po_maximize: Finding, load_shares: Finding
                             ) -> tuple[Configuration, ...]:
    """pytorch-ranger's Ranger; pytorch-optimizer's Ranger: its default (an ascent step
    below the threshold, gradients centralised), with degenerated_to_sgd=True, and with
    use_gc=False besides (its reading, with the maximize finding of pytorch-optimizer's
    RAdam); timm's, torch-optimizer's and pytorch-optimizer's Lookahead wrapped around
    torch.optim.RAdam. Each in
    float32 and float64. ``load_shares``: torch.optim.Optimizer's load_state_dict, which
    timm's Lookahead inherits (torch-optimizer's has its own)."""
    maximize = po_maximize.at("test_step_leaves_gradients")
    return (*RANGER_CONFIGURATIONS, *and_float64(
        Configuration("over torch.optim.RAdam", "radam_verify.timm_optim:Lookahead",
                      _OVER_RADAM, convention=_TIMM_READING, documented=_TIMM_LOOKAHEAD,
                      findings=(load_shares,)),
        # timm's 'lookahead_adamw' (timm.optim.create_optimizer_v2): the same wrapper over
        # torch's AdamW
        Configuration("over torch.optim.AdamW", "radam_verify.timm_optim:Lookahead",
                      {"inner": "torch.optim:AdamW", "foreach": False},
                      convention="adamw,lookahead_k=6,lookahead_alpha=0.5,"
                      "lookahead_start=first-sync,lookahead_count=group",
                      documented=_TIMM_LOOKAHEAD.replace("torch.optim.RAdam", "torch.optim.AdamW")
                      .replace("the pytorch preset", "the adamw preset"),
                      findings=(load_shares,)),
        # its own state_dict: torch.optim.Optimizer's load_state_dict finding is not inherited
        Configuration("over torch.optim.RAdam", "torch_optimizer:Lookahead", _OVER_RADAM,
                      convention=_TO_READING, documented=_TO_LOOKAHEAD, inherits=False,
                      findings=(TO_LOOKAHEAD_ADDED_GROUP, TO_LOOKAHEAD_STATE_DICT)),
        Configuration("over torch.optim.RAdam", "pytorch_optimizer:Lookahead", _OVER_RADAM,
                      convention=_PO_LOOKAHEAD_READING, documented=_PO_LOOKAHEAD),
    ), *and_float64(
        Configuration("default", "pytorch_optimizer:Ranger", convention=_PO_READING,
                      documented=_PO_RANGER,
                      findings=(maximize, PO_RANGER_GC, PO_RANGER_ASCENT)),
        Configuration("degenerated_to_sgd=True", "pytorch_optimizer:Ranger",
                      {"degenerated_to_sgd": True}, convention=_PO_READING,
                      documented=_PO_RANGER, findings=(maximize, PO_RANGER_GC)),
        Configuration("degenerated_to_sgd=True, use_gc=False", "pytorch_optimizer:Ranger",
                      {"degenerated_to_sgd": True, "use_gc": False}, convention=_PO_READING,
                      documented=_PO_RANGER, findings=(maximize,))),
            *optax_lookahead_configurations())


_OPTAX_LOOKAHEAD = ("optax/_src/lookahead.py: LookaheadParams.init_synced starts the slow "
                    "weights at theta_0, a sync after every sync_period-th step, merged into "
                    "the step's updates (_lookahead_update: d = fast + u - slow, slow += "
                    "slow_step_size d, fast += u - (1 - slow_step_size) d, on every step with "
                    "sync_next 0 or 1): lookahead_sync=merged over the inner optax.adam's "
                    "reading (its scalars float32 in the float32 run, as identified for "
                    "optax.adam)")


def optax_lookahead_configurations() -> tuple[Configuration, ...]:
    """optax.lookahead over optax.adam (k = 6, alpha = 0.5, as Ranger's), float32 and x64,
    verified against its documented merged sync (identify finds the copied sync, whose
    bound the probe's values do not exceed: the merged one's roundings are a superset)."""
    spec = "optax:lookahead"
    kwargs = {"inner": "optax:adam", "sync_period": 6, "slow_step_size": 0.5}
    reading = "optax-adam{},lookahead_k=6,lookahead_sync=merged"
    return (Configuration("over optax.adam, float32", spec, kwargs,
                          convention=reading.format(",scalars=float32"),
                          documented=_OPTAX_LOOKAHEAD),
            Configuration("over optax.adam, x64", spec, kwargs, dtype="float64",
                          convention=reading.format(""), documented=_OPTAX_LOOKAHEAD))

