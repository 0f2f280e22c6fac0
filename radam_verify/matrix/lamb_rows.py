"""LAMB's implementations in the matrix: torch-optimizer's, pytorch-optimizer's and timm's
``Lamb``, optax's ``lamb``, Keras 3's ``Lamb`` and bitsandbytes' ``LAMB``.

torch-optimizer's and timm's rows are identified (``auto``): the probes name LAMB and its
reading (torch-optimizer's: no bias correction, ||theta|| clamped at 10; timm's: the trust
ratio only for tensors whose weight decay is not zero, and by default every gradient
divided by max(1, ||G||) first, G all of them: ``clip_norm=1``). pytorch-optimizer's matches no
reading and is verified against the one its documentation states. The findings every torch
optimizer inherits are added by :mod:`radam_verify.matrix.configurations`.
"""

from __future__ import annotations

from radam_verify.matrix.rows import Configuration, Finding

PO_LAMB_STEP_OVER_BC1 = Finding(
    "the step is divided by 1 - beta1^t after the trust ratio has set its norm (step_size = "
    "lr / bias_correction1 through apply_adam_debias), though the documented default has no "
    "bias correction: the first step has norm 10 lr phi(||theta||), and every step's norm "
    "depends on t",
    "pytorch_optimizer_lamb_step_divided_by_bias_correction.py", when=r"theta\[")

BITSANDBYTES_LAMB_ZERO_NORM = Finding(
    "a tensor whose norm is 0 gets the scale max_unorm ||theta|| / ||u|| = 0 "
    "(backends/cpu/ops.py, _compute_update_norm_and_scale) instead of LAMB's ratio 1, so a "
    "tensor initialised to zeros is never stepped",
    "bitsandbytes_lamb_zero_norm_never_steps.py", when=r"observed -?0\.0;")
BITSANDBYTES_LAMB_RATIO = Finding(
    "the CPU backend clips the norm of m / (sqrt(v) + eps sqrt(1 - b2^t)), the update "
    "without its bias corrections, at ||theta|| and then applies lr sqrt(1 - b2^t) / "
    "(1 - b1^t) times it: the trust ratio is off by that factor (0.316 on the first step at "
    "the default betas) wherever it clips",
    "bitsandbytes_lamb_ratio_without_bias_correction.py", when=r"theta\[")

_BITSANDBYTES_LAMB = ("bitsandbytes/optim/lamb.py and backends/cpu/ops.py: p *= 1 - lr wd, "
                      "then the update scaled by min(1, max_unorm ||theta|| / ||u||) with "
                      "max_unorm = 1 (lamb,weight_decay=decoupled,trust_max=1)")

_PO_LAMB = ("pytorch_optimizer/optimizer/lamb.py: 'default update follows version 3 of the "
            "paper without bias correction'; u = m / (sqrt(v) + eps), decoupled decay "
            "p *= 1 - wd lr (weight_decouple=True), phi = ||theta|| clamped at clamp = 10")


_OPTAX_LAMB = ("optax/_src/alias.py: lamb = chain(scale_by_adam(b1, b2, eps, eps_root), "
               "add_decayed_weights(weight_decay, mask), scale_by_trust_ratio(), "
               "scale_by_learning_rate(learning_rate)): the paper's reading; its scalars are "
               "float32 in a float32 run (identified as such for optax.adam: LAMB's "
               "normalised step hides the bias corrections from the probes)")


KERAS_LAMB_BFLOAT16_SCALARS = Finding(
    "update_step casts the step count, beta_1 and beta_2 to the variable's dtype and divides v "
    "by 1 - beta_2^t formed there: bfloat16 rounds every beta_2 above 1 - 2^-9, the default "
    "0.999 included, to 1, so v_hat = v / 0 is inf where v > 0, the update m_hat / sqrt(v_hat) "
    "is 0 and theta does not move, and 0 / 0 = NaN where v = 0 (an element whose gradients "
    "were all zero), which the step writes into theta where the exact step leaves it as it "
    "is; below that its beta_2 changes 1 - beta_2 by up to 2^-9 / (1 - beta_2) relatively",
    "keras_bfloat16_beta2_rounds_to_one.py", when=r"theta\[")
_KERAS_LAMB = ("keras/src/optimizers/lamb.py: m_hat / (sqrt(v_hat) + epsilon), the ratio "
               "||variable|| / ||update|| (1 where a norm is 0), after the base optimizer's "
               "decoupled decay; its scalars are float32 (as identified for Keras 3's Adam: "
               "LAMB's normalised step hides the bias corrections from the probes)")


_KERAS_LAMB_FLOAT64 = ("keras/src/optimizers/lamb.py as in float32, lr cast to the variable's "
                       "dtype from the float32 learning-rate variable and every other "
                       "hyperparameter a Python number taken in the variable's dtype "
                       "(keras-lamb with lr held as a binary32 number, scalars=float32-lr)")
KERAS_TORCH_PYTHON_SCALAR = Finding(
    "lamb.py updates m and v as ops.multiply(ops.subtract(gradient, m), 1 - beta): on the "
    "torch backend the Python float 1 - beta becomes a tensor of Keras' floatx, float32, so "
    "float64 moments are updated with a binary32 coefficient (1 - 0.999 becomes "
    "0.0010000000474974513, some 10^8 float64 ulps of m and v per step), where the jax "
    "backend keeps the binary64 value",
    "keras_torch_float64_python_scalar_in_float32.py", when=r"(theta|m|v)\[")


def lamb_configurations(load_shares: Finding, maximize_in_place: Finding,
                        new_storage: Finding) -> tuple[Configuration, ...]:
    """The rows; ``load_shares``: torch's shared state after load_state_dict, which timm's
    class (outside the modules the matrix adds it to by name) inherits as well;
    ``maximize_in_place``: pytorch-optimizer's maximize negating p.grad, which its Lamb
    shares with its RAdam; ``new_storage``: bitsandbytes' contiguous copy of a strided
    parameter, which its LAMB shares with its Adam."""
    return (
        # bitsandbytes' 32-bit LAMB in its own environment (noxfile.py), float32
        Configuration("default", "bitsandbytes.optim:LAMB", environment="bitsandbytes",
                      convention="lamb,weight_decay=decoupled,trust_max=1",
                      documented=_BITSANDBYTES_LAMB,
                      findings=(BITSANDBYTES_LAMB_ZERO_NORM, new_storage,
                                BITSANDBYTES_LAMB_RATIO)),
        Configuration("default", "torch_optimizer:Lamb"),
        Configuration("default", "torch_optimizer:Lamb", dtype="float64"),
        # no reading reproduces its probes (the step's norm grows by 1 / (1 - beta1^t)): the
        # row is verified against the reading its documentation states
        *(Configuration("default", "pytorch_optimizer:Lamb", dtype=dtype,
                        convention="torch-optimizer-lamb,weight_decay=decoupled",
                        documented=_PO_LAMB,
                        findings=(PO_LAMB_STEP_OVER_BC1,
                                  maximize_in_place.at("test_step_leaves_gradients")))
          for dtype in ("float32", "float64")),
        # timm clips the global gradient norm at 1.0 by default (clip_norm=1, identified):
        # the default rows, and the step alone with it turned off
        Configuration("default", "radam_verify.timm_optim:Lamb", findings=(load_shares,)),
        Configuration("default", "radam_verify.timm_optim:Lamb", dtype="float64",
                      findings=(load_shares,)),
        Configuration("max_grad_norm=None", "radam_verify.timm_optim:Lamb",
                      {"max_grad_norm": None}, findings=(load_shares,)),
        Configuration("max_grad_norm=None", "radam_verify.timm_optim:Lamb",
                      {"max_grad_norm": None}, dtype="float64", findings=(load_shares,)),
        Configuration("float32", "optax:lamb", convention="lamb,scalars=float32",
                      documented=_OPTAX_LAMB),
        Configuration("x64", "optax:lamb", dtype="float64"),
        Configuration("inject_hyperparams, float32", "optax:lamb",
                      {"inject_hyperparams": True}, convention="lamb,scalars=float32-held",
                      documented=_OPTAX_LAMB),
        Configuration("inject_hyperparams, x64", "optax:lamb", {"inject_hyperparams": True},
                      dtype="float64"),
        # Keras 3's Lamb on the torch and jax backends, float32 and bfloat16 (as its Adam's
        # rows)
        *(Configuration(f"{backend} backend", "keras.optimizers:Lamb", dtype=dtype,
                        convention="keras-lamb,scalars=float32", documented=_KERAS_LAMB,
                        variables={"KERAS_BACKEND": backend},
                        findings=(KERAS_LAMB_BFLOAT16_SCALARS,) if dtype == "bfloat16" else ())
          for dtype in ("float32", "bfloat16") for backend in ("torch", "jax")),
        # and float64: lr held in its float32 variable, the rest in float64 (the jax
        # backend with JAX's x64 mode)
        *(Configuration(f"{backend} backend", "keras.optimizers:Lamb", dtype="float64",
                        convention="keras-lamb,scalars=float32-lr",
                        documented=_KERAS_LAMB_FLOAT64, variables={"KERAS_BACKEND": backend},
                        findings=(KERAS_TORCH_PYTHON_SCALAR,) if backend == "torch" else ())
          for backend in ("torch", "jax")),
    )

