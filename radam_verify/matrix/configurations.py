"""The RAdam implementations users install, in their documented configurations (Adam's
in :mod:`radam_verify.matrix.adam_rows`, LAMB's in :mod:`radam_verify.matrix.lamb_rows`,
Lookahead's in :mod:`radam_verify.matrix.lookahead_rows`).

Each configuration names the convention to verify against: ``auto`` (identified by the
probes) or, where the implementation documents a behaviour the probes cannot confirm
(because it does something else), the documented convention, with the sentence of the
documentation it comes from. ``findings`` explain the deviations the suite reports, one
line each, with the stand-alone script in ``reports/repro/`` that shows it against the
exact value; a deviation without an entry is shown as unexplained.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from radam_verify.matrix.adam_rows import (
    ADAM_CONFIGURATIONS,
    ADAM_NOT_RUN,
    BITSANDBYTES_NEW_STORAGE,
)
from radam_verify.matrix.lamb_rows import lamb_configurations
from radam_verify.matrix.lookahead_rows import lookahead_configurations
from radam_verify.matrix.optax_findings import OPTAX_FLOAT32_SCHEDULE, OPTAX_FTZ, OPTAX_INT_POWER
from radam_verify.matrix.rows import Configuration, Finding, and_float64

__all__ = ["CONFIGURATIONS", "NOT_RUN", "Configuration", "Finding"]


TORCH_FOREACH_EPS0 = Finding(
    "foreach evaluates m / (sqrt(v) + eps) on unrectified steps too: with eps = 0 an element "
    "whose gradients were all zero becomes 0/0 = NaN where the exact step leaves it unchanged; "
    "a float16 tensor (alone or beside tensors of another dtype) does the same with eps = 1e-8, "
    "which rounds to 0 in float16, wherever its v is 0 in float16 (a zero gradient, or one so "
    "small that (1 - b2) g^2 underflows)",
    "torch_foreach_eps_zero.py", when=r"observed nan")
TORCH_CAPTURABLE_MIXED_BETAS = Finding(
    "with capturable=True beta2^t is float32 arithmetic on float32(beta2) (torch._foreach_pow "
    "of a float32 step count on the device) while rho_inf = 2 / (1 - beta2) - 1 is formed in "
    "binary64 from beta2 as given: rho_t mixes two beta2s (at beta2 = 0.999 it is off by about "
    "0.026 at every step), which neither beta2 in float32 arithmetic allows; r_t is off by "
    "about 1e-5 relative at t = 1001 and by more near the threshold",
    "torch_radam_capturable_mixed_betas.py", when=r"observed -?[0-9]")
TORCH_DIFFERENTIABLE_RELOAD = Finding(
    "with differentiable=True and weight decay, exp_avg and exp_avg_sq carry autograd history; "
    "saved by state_dict() they load as leaf tensors that require grad, and the next step's "
    "in-place lerp_ raises RuntimeError",
    "torch_differentiable_state_reload.py")
TO_ADDED_GROUP_BUFFER = Finding(
    "a group added with add_param_group shares the default groups' cache of (step, rho_t, "
    "step size), so its rectification uses their beta2, not its own (the constructor gives "
    "such a group its own cache; add_param_group does not)",
    "torch_optimizer_shared_rectification_buffer.py", "test_parameter_groups")
TO_DECAY_ROUNDING = Finding(
    "decoupled decay as p.add_(p, alpha=-weight_decay * lr) rounds lr * weight_decay to "
    "float32 first; when it is near 1 the factor 1 - lr * weight_decay cancels and the decayed "
    "parameter is off by several ulps",
    "torch_optimizer_decay_factor_rounding.py", when=r"weight_decay=0\.[1-9]|weight_decay=1")
TO_FLOAT32_ARITHMETIC = Finding(
    "the step works on p.data.float() and p.grad.data.float() and keeps exp_avg and exp_avg_sq "
    "as float32 tensors, so a float64 parameter is stepped in float32 arithmetic (errors of "
    "about 2^29 float64 ulps) and its moments are float32 values",
    "torch_optimizer_float64_in_float32.py")
PO_MAXIMIZE_IN_PLACE = Finding(
    "maximize negates p.grad in place, so the caller's gradient is changed by step()",
    "pytorch_optimizer_maximize_negates_grad.py")
PO_L2_DROPPED = Finding(
    "weight_decouple=False is documented to add weight decay to the gradient (L2), but the "
    "decay is applied with grad=None and so never happens: the update has no weight decay",
    "pytorch_optimizer_l2_dropped.py")
OPTIMI_L2_GRAD = Finding(
    "L2 weight decay (neither decouple_wd nor decouple_lr) is added to p.grad in place "
    "(grad.add_(param, alpha=weight_decay)), so after step() the caller's gradient holds "
    "g + weight_decay * theta",
    "torch_optimi_l2_grad_in_place.py", "test_step_leaves_gradients")
OPTIMI_FOREACH_GRAD = Finding(
    "the foreach path computes the denominator in the gradient tensors "
    "(torch._foreach_copy_(grads, exp_avg_sqs), sqrt, + eps), so after a rectified step "
    "p.grad holds sqrt(v_hat) + eps",
    "torch_optimi_foreach_grad_overwritten.py", "test_step_leaves_gradients")

OPTIMI_KAHAN_GRAD = Finding(
    "Kahan summation (on by default for bfloat16 and float16 parameters) uses p.grad as its "
    "scratch buffer (grad.copy_(param), then grad.sub_(param) after the update), so after "
    "step() the caller's gradient holds the parameter's change with its sign flipped",
    "torch_optimi_kahan_grad_overwritten.py", "test_step_leaves_gradients")

FASTAI_L2_GRAD = Finding(
    "decouple_wd=False (L2) runs the l2_reg callback, p.grad.data.add_(p.data, alpha=wd), so "
    "after step() the caller's gradient holds g + wd * theta",
    "fastai_l2_grad_in_place.py", "test_step_leaves_gradients")

OPTIMI_DECAY_FACTOR_ZERO = Finding(
    "decoupled decay replaces weight_decay by its factor, 1 - lr * weight_decay (decouple_lr: "
    "1 - (lr / max_lr) * weight_decay), and then decays only `if weight_decay != 0`: where the "
    "factor is exactly 0 (lr * weight_decay = 1; weight_decay = 1 with decouple_lr at lr = "
    "max_lr) the parameter is not decayed at all instead of being multiplied by 0",
    "torch_optimi_decay_factor_zero.py")
OPTIMI_FOREACH_EMPTY_GROUP = Finding(
    "the foreach path passes a group whose tensors have no gradient on this step to torch's "
    "_group_tensors_by_device_and_dtype with empty lists, which raises RuntimeError (Expected "
    "!nested_tensorlist[0].empty()), so step() fails for the whole model",
    "torch_optimi_foreach_empty_group.py", "test_parameter_groups", when="nested_tensorlist")

TORCH_LOAD_SHARES = Finding(
    "torch.optim.Optimizer.load_state_dict keeps the loaded state's tensors themselves: "
    "state_dict() returns the live tensors and load_state_dict() casts each with Tensor.to(), "
    "which returns the tensor itself when dtype and device match, so an optimizer loaded in "
    "process shares exp_avg, exp_avg_sq (and step tensors) with its source, and a step of "
    "either changes the other (pytorch/pytorch#196083; inherited by every optimizer built on "
    "torch.optim.Optimizer that does not override load_state_dict)",
    "torch_load_state_dict_shares_state.py", "test_a_loaded_state_dict_is_a_copy")
FASTAI_LOAD_SHARES = Finding(
    "fastai's Optimizer.load_state_dict assigns the loaded dict's hypers list and per-parameter "
    "state dicts themselves, so an optimizer loaded in process shares its hyperparameters and "
    "moments with its source: setting the source's lr changes the loaded optimizer's, and a "
    "step of either changes the other's moments",
    "fastai_load_state_dict_shares_state.py", "test_a_loaded_state_dict_is_a_copy")
TIMM_FLOAT32_ARITHMETIC = Finding(
    "RAdamLegacy works on p.float() and p.grad.float() and keeps exp_avg and exp_avg_sq in "
    "float32 ('state is always kept in fp32'), so a float64 parameter is stepped in float32 "
    "arithmetic and its moments are float32 values",
    "timm_radam_legacy_float64_in_float32.py")
TIMM_DECAY_ROUNDING = Finding(
    "decoupled decay as p_fp32.add_(p_fp32, alpha=-weight_decay * lr) (torch-optimizer's form) "
    "rounds lr * weight_decay to float32 first; when it is near 1 the factor "
    "1 - lr * weight_decay cancels and the decayed parameter is off by several ulps",
    "timm_radam_legacy_decay_factor_rounding.py", when=r"weight_decay=0\.[1-9]|weight_decay=1")
_PADDLE_RADAM = ("paddle.optimizer.RAdam: 'if rho_t > 5: theta_t <- theta_t - gamma m_hat_t r_t "
                 "l_t' with l_t = sqrt(1 - beta2^t) / (sqrt(v_t) + epsilon), 'else: theta_t <- "
                 "theta_t - gamma m_hat_t'; a float weight_decay is L2Decay, added to the "
                 "gradient (the pytorch preset)")
_PADDLE_KERNEL = ("paddle/phi/kernels/impl/radam_kernel_impl.h takes beta1, beta2 and epsilon "
                  "as float attributes, computes in the parameters' dtype and multiplies its "
                  "beta1_pow and beta2_pow accumulators by each step's betas (powers=running)")
PADDLE_FLOAT32_SUBNORMAL_SQRT = Finding(
    "the radam kernel's l_t = sqrt(1 - b2^t) / (sqrt(v) + eps) is an Eigen expression whose "
    "vectorised body (tensors of 8 float32 elements and more) takes the square root of a "
    "subnormal v as 0: with eps = 0 the update is infinite, with eps > 0 divided by eps "
    "alone, where a shorter tensor (the scalar path) steps correctly",
    "paddle_float32_subnormal_sqrt.py")
TFA_FLOAT32_HYPERPARAMETERS = Finding(
    "RectifiedAdam's beta_1, beta_2 and learning rate are Keras hyperparameters, float32 "
    "variables, cast to the parameters' dtype, and its schedule (beta^t, 1 - beta^t, sma_t, "
    "r_t) is evaluated in that dtype: float64 parameters get float32 betas (after one step at "
    "beta_2 = 0.999, v holds (1 - float32(0.999)) g^2), and in float32 sma_t cancels near the "
    "threshold, off by far more than float32 arithmetic on the step allows",
    "tfa_float32_hyperparameters.py")
TFA_EPSILON_ZERO = Finding(
    "RectifiedAdam sets self.epsilon = epsilon or tf.keras.backend.epsilon(): epsilon = 0 is "
    "replaced by 1e-7 without a word, and every rectified step divides by sqrt(v_hat) + 1e-7",
    "tfa_epsilon_zero_replaced.py", when=r"eps=0\.0[,)]")
MINDSPORE_FLOAT32_SCALARS = Finding(
    "RAdam passes beta1, beta2 and eps into a graph compiled by @jit as float32 scalars and "
    "keeps each group's lr as a float32 Parameter: 1 - beta1, 1 - beta2, 1 - beta^t and rho_t "
    "are float32 arithmetic, so float64 parameters get float32 betas (after one step at beta2 "
    "= 0.999, v holds (1 - float32(0.999)) g^2), and in float32 rho_t cancels near the "
    "threshold, off by far more than float32 arithmetic on the step allows",
    "mindspore_float32_scalars.py", when="observed")
MINDSPORE_BETA2_NEAR_ONE = Finding(
    "beta2 above 1 - 2^-25 (accepted by the constructor) rounds to 1.0 as a float32 scalar, and "
    "the first step raises ValueError ('The divisor could not be zero') computing "
    "rho_inf = 2 / (1 - beta2) - 1",
    "mindspore_beta2_near_one_raises.py", when=r"divisor could not be zero")
MINDSPORE_ZERO_REFUSED = Finding(
    "the constructor refuses lr = 0 and eps = 0 (ValueError: 'must be greater than 0.0'), both "
    "legal: lr = 0 leaves theta unchanged, and eps = 0 is RAdam without its fuzz term",
    "mindspore_zero_lr_eps_refused.py", when=r"must be greater than 0")

#: findings of a base class every configuration of the module inherits
_INHERITED: Mapping[str, Finding] = {
    "torch.optim": TORCH_LOAD_SHARES, "torch_optimizer": TORCH_LOAD_SHARES,
    "pytorch_optimizer": TORCH_LOAD_SHARES, "optimi": TORCH_LOAD_SHARES,
    "pytorch_ranger": TORCH_LOAD_SHARES,
    "fastai.optimizer": FASTAI_LOAD_SHARES,
}

_PO_FINDINGS = (PO_MAXIMIZE_IN_PLACE.at("test_step_leaves_gradients"),)
#: on the foreach path a gradient changed within the first 5 steps (none rectified) is L2's
_OPTIMI_FOREACH = (replace(OPTIMI_L2_GRAD, when=r"step [1-5] changed the gradient"),
                   OPTIMI_FOREACH_GRAD, OPTIMI_FOREACH_EMPTY_GROUP)

_CONFIGURATIONS: tuple[Configuration, ...] = (
    *and_float64(
        Configuration("for-loop", "torch.optim:RAdam", {"foreach": False}),
        Configuration("foreach", "torch.optim:RAdam", {"foreach": True},
                      findings=(TORCH_FOREACH_EPS0,)),
        Configuration("differentiable", "torch.optim:RAdam", {"differentiable": True},
                      findings=(TORCH_DIFFERENTIABLE_RELOAD.at("test_state_dict_round_trip"),)),
        Configuration("decoupled_weight_decay=True", "torch.optim:RAdam",
                      {"foreach": False, "decoupled_weight_decay": True}),
        Configuration("maximize=True", "torch.optim:RAdam", {"foreach": False, "maximize": True}),
        Configuration("complex parameters", "torch.optim:RAdam", {"foreach": False},
                      dtype="complex64"),
    ),
    # capturable runs the foreach implementation, with its schedule in float32 tensors
    Configuration("capturable", "torch.optim:RAdam", {"capturable": True}, device="cuda",
                  findings=(TORCH_FOREACH_EPS0, TORCH_CAPTURABLE_MIXED_BETAS)),
    Configuration("foreach", "torch.optim:RAdam", {"foreach": True}, device="cuda",
                  findings=(TORCH_FOREACH_EPS0,)),
    Configuration("default", "torch_optimizer:RAdam",
                  findings=(TO_ADDED_GROUP_BUFFER, TO_DECAY_ROUNDING,
                            # a float64 tensor beside the float32 ones is stepped in float32
                            TO_FLOAT32_ARITHMETIC.at("test_a_tensor_of_another_dtype"))),
    Configuration("default", "torch_optimizer:RAdam", dtype="float64", convention="official-sgd",
                  documented="the convention identify finds for the same code in float32; in "
                  "float64 no convention reproduces the probes, as the step runs in float32",
                  findings=(TO_FLOAT32_ARITHMETIC,)),
    *and_float64(
        Configuration("default", "pytorch_optimizer:RAdam", findings=_PO_FINDINGS),
        Configuration("degenerated_to_sgd=True", "pytorch_optimizer:RAdam",
                      {"degenerated_to_sgd": True}, findings=_PO_FINDINGS),
        Configuration("weight_decouple=False", "pytorch_optimizer:RAdam",
                      {"weight_decouple": False},
                      convention="official,weight_decay=l2",
                      documented="weight_decouple: 'Apply weight decay to parameters instead of "
                      "adding it to the gradient'; False adds it to the gradient (L2)",
                      findings=(replace(PO_L2_DROPPED, when=r"weight_decay=(?!0\.0\b)"),
                                *_PO_FINDINGS)),
    ),
    *and_float64(
        Configuration("for-loop", "optimi:RAdam", {"foreach": False, "triton": False},
                      findings=(OPTIMI_L2_GRAD,)),
        Configuration("foreach", "optimi:RAdam", {"foreach": True, "triton": False},
                      findings=_OPTIMI_FOREACH),
        Configuration("decouple_wd=True", "optimi:RAdam",
                      {"foreach": False, "triton": False, "decouple_wd": True},
                      findings=(OPTIMI_DECAY_FACTOR_ZERO,)),
        Configuration("decouple_lr=True", "optimi:RAdam",
                      {"foreach": False, "triton": False, "decouple_lr": True},
                      findings=(OPTIMI_DECAY_FACTOR_ZERO,)),
    ),
    # bfloat16 parameters, stepped with optimi's Kahan-compensated updates (its default
    # there), which write p.grad whatever the weight decay: the property's minimal
    # counterexample shows that, not the L2 or denominator writes of the float32 rows
    Configuration("for-loop", "optimi:RAdam", {"foreach": False, "triton": False},
                  dtype="bfloat16", findings=(OPTIMI_KAHAN_GRAD,)),
    Configuration("foreach", "optimi:RAdam", {"foreach": True, "triton": False},
                  dtype="bfloat16", findings=(OPTIMI_KAHAN_GRAD, OPTIMI_FOREACH_EMPTY_GROUP)),
    *and_float64(
        Configuration("default", "fastai.optimizer:RAdam", environment="fastai"),
        Configuration("decouple_wd=False", "fastai.optimizer:RAdam", {"decouple_wd": False},
                      environment="fastai", findings=(FASTAI_L2_GRAD,)),
    ),
    # timm's own class, imported from the installed timm without timm/__init__.py (which
    # imports torchvision): radam_verify/timm_optim.py. In float64 its load_state_dict copies
    # the float32 moments (their dtype differs from the parameter's), so only float32 shares.
    Configuration("timm.optim.radam without timm/__init__", "radam_verify.timm_optim:RAdamLegacy",
                  findings=(TORCH_LOAD_SHARES, TIMM_DECAY_ROUNDING,
                            # a float64 tensor beside the float32 ones is stepped in float32
                            TIMM_FLOAT32_ARITHMETIC.at("test_a_tensor_of_another_dtype"))),
    Configuration("timm.optim.radam without timm/__init__", "radam_verify.timm_optim:RAdamLegacy",
                  dtype="float64", convention="official-sgd",
                  documented="the convention identify finds for the same code in float32; in "
                  "float64 no convention reproduces the probes, as the step runs in float32",
                  findings=(TIMM_FLOAT32_ARITHMETIC,)),
    Configuration("default", "paddle.optimizer:RAdam", environment="paddle",
                  convention="pytorch,scalars=float32-held,powers=running",
                  documented=_PADDLE_RADAM + "; " + _PADDLE_KERNEL + ", in float32 every "
                  "hyperparameter then a binary32 number (scalars=float32-held)",
                  findings=(PADDLE_FLOAT32_SUBNORMAL_SQRT,)),
    Configuration("default", "paddle.optimizer:RAdam", environment="paddle", dtype="float64",
                  convention="pytorch,scalars=float32-betas,powers=running",
                  documented=_PADDLE_RADAM + "; " + _PADDLE_KERNEL + " (scalars=float32-betas)"),
    *and_float64(
        Configuration("default", "tensorflow_addons.optimizers:RectifiedAdam",
                      environment="tensorflow", convention="optax,weight_decay=decoupled",
                      documented="tensorflow_addons/optimizers/rectified_adam.py: "
                      "'tf.where(sma_t >= sma_threshold, r_t * m_corr_t / (v_corr_t + "
                      "epsilon_t), m_corr_t)' with sma_threshold = 5 and v_corr_t = "
                      "sqrt(v_t / (1 - beta_2^t)), then 'var_t += wd_t * var' and 'var -= "
                      "lr_t * var_t': decoupled decay scaled by lr on every step",
                      findings=(TFA_FLOAT32_HYPERPARAMETERS, TFA_EPSILON_ZERO)),
    ),
    *and_float64(
        Configuration("default", "mindspore.experimental.optim:RAdam", environment="mindspore",
                      convention="pytorch",
                      documented="mindspore.experimental.optim.RAdam: 'If rho_t > 5: l_t <- "
                      "sqrt(1 - beta_2^t) / (sqrt(v_t) + epsilon), theta_t <- theta_{t-1} - gamma "
                      "m_hat_t r_t l_t; Else: theta_t <- theta_{t-1} - gamma m_hat_t', weight "
                      "decay added to the gradient (the pytorch preset)",
                      # what a step raises first, then its arithmetic
                      findings=(MINDSPORE_BETA2_NEAR_ONE, MINDSPORE_ZERO_REFUSED,
                                MINDSPORE_FLOAT32_SCALARS)),
    ),
    Configuration("float32", "optax:radam", convention="optax",
                  documented="optax.radam: the RAdam of Liu et al. with threshold 5 and eps "
                  "added to the bias-corrected sqrt(nu) (the optax preset)",
                  findings=(OPTAX_FLOAT32_SCHEDULE,)),
    Configuration("x64", "optax:radam", dtype="float64", findings=(OPTAX_INT_POWER,)),
    # the hyperparameters in the state, where a schedule sets them (property 20); in
    # float32 held there as binary32 numbers
    Configuration("inject_hyperparams, float32", "optax:radam", {"inject_hyperparams": True},
                  convention="optax,scalars=float32-held",
                  documented="optax.radam as above, its hyperparameters held in the state as "
                  "float32 arrays by optax.inject_hyperparams"),
    Configuration("inject_hyperparams, x64", "optax:radam", {"inject_hyperparams": True},
                  dtype="float64", findings=(OPTAX_INT_POWER,)),
    # the platform's flushing itself, judged strictly (--verify-subnormals=ieee)
    Configuration("x64, subnormals judged as IEEE", "optax:radam", dtype="float64",
                  subnormals="ieee", findings=(OPTAX_FTZ, OPTAX_INT_POWER)),
    *ADAM_CONFIGURATIONS,
    *lamb_configurations(TORCH_LOAD_SHARES, PO_MAXIMIZE_IN_PLACE, BITSANDBYTES_NEW_STORAGE),
    *lookahead_configurations(PO_MAXIMIZE_IN_PLACE, TORCH_LOAD_SHARES),
)
CONFIGURATIONS: tuple[Configuration, ...] = tuple(
    replace(c, findings=(*c.findings, _INHERITED[c.module]))
    if c.module in _INHERITED and c.inherits else c
    for c in _CONFIGURATIONS)

#: RAdam implementations that were considered and are not in the matrix, and why
NOT_RUN: Mapping[str, str] = {
    "Keras 3 (pip keras)": ("Keras 3 ships no RAdam, and TensorFlow Addons' RectifiedAdam is a "
                            "Keras 2 optimizer (tf.keras on TensorFlow 2.15, in the matrix)"),
    **ADAM_NOT_RUN,
}
