"""Adam's implementations in the matrix: torch.optim.Adam and AdamW on every CPU code path,
with amsgrad=True too, optax's adam, adamw and amsgrad, Keras 3's Adam and AdamW on the
torch and jax backends (float32 and bfloat16), and bitsandbytes' 32-bit Adam and AdamW on its CPU backend.

The convention is identified (``auto``): the probes name the algorithm (RAdam or Adam) and
then its reading, the format of its per-step scalars included (torch's differentiable path
forms its bias corrections in binary32 from a float32 step count: ``scalars=float32``, shown
in the verdict; ``reports/repro/torch_adam_float32_schedule.py`` shows what that costs a
float64 parameter against the binary64 schedule). Each finding explains a deviation with
a stand-alone script in ``reports/repro/``; the findings every torch.optim optimizer
inherits are added by :mod:`radam_verify.matrix.configurations`.
"""

from __future__ import annotations

from collections.abc import Mapping

from radam_verify.matrix.rows import Configuration, Finding, and_float64

TORCH_ADAM_FUSED_STRIDES = Finding(
    "the fused CPU kernel (fused=True) steps a strided parameter as if it were contiguous: "
    "it writes into storage outside the parameter's view and leaves the view's own elements "
    "with values from the wrong positions (a column of a matrix, a slice with a step); it "
    "reads a gradient laid out unlike its parameter (stored transposed) in storage order, "
    "pairing elements wrongly; the for-loop and foreach paths step both correctly",
    "torch_adam_fused_strided_view.py", "test_strided_views")
TORCH_ADAM_DIFFERENTIABLE_LR_ZERO = Finding(
    "with differentiable=True the step is m / (sqrt(v) / (sqrt(1 - beta2^t) step_size) + eps / "
    "step_size) with step_size = -lr / (1 - beta1^t): with lr = 0 that divides by -0, and an "
    "element whose gradients were all zero (m = 0, v = 0) becomes NaN where the exact step "
    "leaves it unchanged",
    "torch_adam_differentiable_lr_zero.py", when=r"observed nan")
TORCH_ADAM_DIFFERENTIABLE_RELOAD = Finding(
    "with differentiable=True and L2 weight decay, exp_avg and exp_avg_sq carry autograd "
    "history (the decayed gradient does); saved by state_dict() they load as leaf tensors "
    "that require grad, and the next step's in-place update of the moments raises "
    "RuntimeError (as RAdam's does)",
    "torch_differentiable_state_reload.py", "test_state_dict_round_trip")


TORCH_ADAM_COMPLEX_DECAY = Finding(
    "a complex parameter is stepped as a pair of reals, but the weight decay is applied to the "
    "complex tensor before that view (L2's grad.add(param, alpha=wd), AdamW's param.mul_(1 - "
    "lr wd)): a complex product, so a NaN in one part (a part's 0/0 where its v underflows "
    "with eps = 0, which its format cannot avoid) makes the other part NaN as well, where "
    "the exact step of that part is finite",
    "torch_adam_complex_decay_mixes_parts.py", when=r"observed nan")


TORCH_ADAM_FUSED_CUDA_BETAS = Finding(
    "the fused CUDA kernel (fused=True) rounds beta1 and beta2 to float32 and forms 1 - beta1 "
    "and 1 - beta2 in float32: after one step at beta2 = 0.999, v holds (1 - float32(0.999)) "
    "g^2 = 0.00099998713 g^2, 111 float32 ulps from the exact 0.001 g^2 (float32's rounding of "
    "beta2 magnified by beta2 / (1 - beta2)), m is 3 ulps off, and every later step carries "
    "them; the for-loop, foreach and fused CPU paths form them in binary64",
    "torch_adam_fused_cuda_float32_betas.py", when=r"observed -?[0-9]")
TORCH_ADAM_FUSED_CUDA_LAYOUTS = Finding(
    "the fused CUDA path requires a gradient laid out as its parameter and raises RuntimeError "
    "('params, grads, exp_avgs, and exp_avg_sqs must have same dtype, device, and layout') for "
    "a strided parameter or a gradient whose strides differ, legal inputs the for-loop and "
    "foreach paths step exactly",
    "torch_adam_fused_cuda_layouts.py", "test_strided_views", when="same dtype, device, and layout")
TORCH_ADAM_CAPTURABLE_SUBNORMAL_LR = Finding(
    "the capturable path divides a float32 tensor by lr (torch._foreach_div_(bias_correction1, "
    "lr)), a multiplication by 1 / lr: for a subnormal lr such as 2^-149 that reciprocal is "
    "beyond float32's range and step() raises RuntimeError ('value cannot be converted to "
    "type float without overflow') where the exact step rounds back to theta",
    "torch_adam_capturable_subnormal_lr.py", "test_scalars_at_the_edges",
    when="without overflow")

TORCH_COMPILE_STALE_BETA2 = Finding(
    "compiled by torch.compile, a step after a group's beta2 was set anew a second time "
    "multiplies v by the new beta2 but adds (1 - beta2) g^2 with the 1 - beta2 of the first "
    "change: the first change recompiles with beta2 as a dynamic input, and inductor's "
    "graph cache hands that compilation's code, with 1 - beta2 fixed in it, to the second "
    "(on a machine whose cache holds an earlier process's compilation, already to the "
    "first); the eager step uses each beta2 as set",
    "torch_compile_stale_beta2.py", "test_hyperparameters_set_between_steps_take_effect")


TORCH_COMPILE_LR_ZERO = Finding(
    "compiled by torch.compile, the step count is a tensor and inductor's code forms the "
    "step as the capturable path does, m / (sqrt(v) / (sqrt(1 - beta2^t) step_size) + eps / "
    "step_size) with step_size = -lr / (1 - beta1^t): with lr = 0 that divides by -0, and "
    "an element whose gradients were all zero (m = 0, v = 0) becomes NaN where the exact "
    "step, and the eager one, leave it unchanged",
    "torch_compile_lr_zero.py", "test_scalars_at_the_edges", when=r"observed nan|is nan")


TORCH_COMPILE_FLOAT64_SCALAR = Finding(
    "compiled by torch.compile, a 0-d float64 parameter is not stepped at all: m, v and "
    "theta stay as they were (m = 0 after a first step with a non-zero gradient), where "
    "the eager step, a 0-d float32 parameter and a float64 tensor of several elements are "
    "stepped",
    "torch_compile_float64_scalar_not_stepped.py", "test_tensors_of_every_size",
    when=r"observed 0\.0;")  # the step is missing: m is still 0


def _torch_compiled() -> tuple[Configuration, ...]:
    """The step compiled by torch.compile (the adapter's ``compile`` keyword), over the
    for-loop path, the default on the CPU: each optimizer compiles as on a fresh machine
    (radam_verify/adapters/torch_compiled.py)."""
    both = (TORCH_COMPILE_STALE_BETA2, TORCH_COMPILE_LR_ZERO)
    scalar = (TORCH_COMPILE_FLOAT64_SCALAR, TORCH_COMPILE_FLOAT64_SCALAR.at("test_strided_views"))
    return tuple(
        Configuration("torch.compile, for-loop", f"torch.optim:{cls}",
                      {"compile": True, "foreach": False}, dtype=dtype,
                      findings=both + (scalar if dtype == "float64" else ()))
        for cls in ("Adam", "AdamW") for dtype in ("float32", "float64"))


#: torch.optim.Adam's documentation gives one algorithm for every implementation
_TORCH_ADAM_DOC = ("torch.optim.Adam's documentation: one algorithm (m_hat / (sqrt(v_hat) + eps)) "
                   "for every implementation, 'fused (bool, optional) - whether the fused "
                   "implementation is used'")


def _torch_cuda() -> tuple[Configuration, ...]:
    """Adam's and AdamW's CUDA paths (run where a GPU is: reports/cuda/run.sh runs them too).
    The fused kernel's float32 betas fit no reading (identify picks the closest, which is
    not it), so its rows are verified against the documented algorithm."""
    fused = (TORCH_ADAM_FUSED_CUDA_BETAS, TORCH_ADAM_FUSED_CUDA_LAYOUTS)
    return (
        Configuration("foreach", "torch.optim:Adam", {"foreach": True}, device="cuda"),
        Configuration("fused", "torch.optim:Adam", {"fused": True}, device="cuda",
                      convention="adam", documented=_TORCH_ADAM_DOC, findings=fused),
        # identified with its scalars in binary32 (a float32 step count on the device)
        Configuration("capturable", "torch.optim:Adam", {"capturable": True}, device="cuda",
                      findings=(TORCH_ADAM_CAPTURABLE_SUBNORMAL_LR,)),
        Configuration("fused", "torch.optim:AdamW", {"fused": True}, device="cuda",
                      convention="adamw", documented=_TORCH_ADAM_DOC.replace("Adam", "AdamW"),
                      findings=fused),
        # AdamW is Adam with decoupled decay (torch/optim/adamw.py: class AdamW(Adam)): its
        # foreach and capturable paths are Adam's
        Configuration("foreach", "torch.optim:AdamW", {"foreach": True}, device="cuda"),
        Configuration("capturable", "torch.optim:AdamW", {"capturable": True}, device="cuda",
                      findings=(TORCH_ADAM_CAPTURABLE_SUBNORMAL_LR,)),
    )


def _torch(cls: str, differentiable: tuple[Finding, ...]) -> tuple[Configuration, ...]:
    spec = f"torch.optim:{cls}"
    return and_float64(
        Configuration("for-loop", spec, {"foreach": False}),
        Configuration("foreach", spec, {"foreach": True}),
        Configuration("fused", spec, {"fused": True}, findings=(TORCH_ADAM_FUSED_STRIDES,)),
        # identified with its scalars in binary32 (a float32 step count tensor)
        Configuration("differentiable", spec, {"differentiable": True},
                      findings=(TORCH_ADAM_DIFFERENTIABLE_LR_ZERO, *differentiable)),
        Configuration("maximize=True", spec, {"foreach": False, "maximize": True}),
        Configuration("complex parameters", spec, {"foreach": False}, dtype="complex64",
                      findings=(TORCH_ADAM_COMPLEX_DECAY,)),
    )


def _torch_amsgrad() -> tuple[Configuration, ...]:
    """amsgrad=True: the running maximum of v in ``max_exp_avg_sq`` (read and injected)."""
    adam, adamw = "torch.optim:Adam", "torch.optim:AdamW"
    return and_float64(
        Configuration("amsgrad, for-loop", adam, {"amsgrad": True, "foreach": False}),
        Configuration("amsgrad, foreach", adam, {"amsgrad": True, "foreach": True}),
        Configuration("amsgrad, fused", adam, {"amsgrad": True, "fused": True},
                      findings=(TORCH_ADAM_FUSED_STRIDES,)),
        # identified with its scalars in binary32, as amsgrad=False's differentiable rows
        Configuration("amsgrad, differentiable", adam, {"amsgrad": True, "differentiable": True},
                      findings=(TORCH_ADAM_DIFFERENTIABLE_LR_ZERO,
                                TORCH_ADAM_DIFFERENTIABLE_RELOAD)),
        Configuration("amsgrad, for-loop", adamw, {"amsgrad": True, "foreach": False}),
    )


BITSANDBYTES_FLOAT64 = Finding(
    "bitsandbytes keeps its 32-bit states (state1, state2: m and v) in float32 whatever the "
    "parameter's dtype and computes the update on p.data.float() (backends/cpu/ops.py): a "
    "float64 parameter gets a float32 update and float32 moments, some 10^8 float64 ulps "
    "from the exact step",
    "bitsandbytes_float64_in_float32.py", when=r"observed")


BITSANDBYTES_NEW_STORAGE = Finding(
    "bitsandbytes begins each parameter's step with p.data = p.data.contiguous() "
    "(optim/optimizer.py, update_step): a strided parameter is stepped in a contiguous copy, "
    "and the storage it was a view of (the rest of the model's tensor) keeps its old values",
    "bitsandbytes_strided_parameter_new_storage.py",
    properties="test_strided_views", when=r"no longer holds the parameter")


def _bitsandbytes() -> tuple[Configuration, ...]:
    """The 32-bit Adam and AdamW (bitsandbytes' own environment, noxfile.py): float32, and
    bfloat16 (stepped in float32 and rounded once), and float64 (stepped in float32)."""
    rows = []
    for cls in ("Adam32bit", "AdamW32bit"):
        spec = f"bitsandbytes.optim:{cls}"
        # a float64 tensor in a group of another dtype is stepped in float32 too
        mixed = (BITSANDBYTES_FLOAT64.at("test_a_tensor_of_another_dtype"),
                 BITSANDBYTES_NEW_STORAGE)
        rows += [Configuration("default", spec, environment="bitsandbytes", findings=mixed),
                 Configuration("default", spec, dtype="bfloat16", environment="bitsandbytes",
                               convention="adamw", documented=_BITSANDBYTES, findings=mixed),
                 Configuration("default", spec, dtype="float64", environment="bitsandbytes",
                               convention="adamw", documented=_BITSANDBYTES,
                               findings=(BITSANDBYTES_FLOAT64, BITSANDBYTES_NEW_STORAGE))]
    return tuple(rows)


#: what identify finds in float32, for the dtypes where the probes cannot tell (bfloat16's
#: bounds are wide; in float64 the step runs in float32)
_BITSANDBYTES = ("bitsandbytes/backends/cpu/ops.py: p *= 1 - lr wd, then m / (sqrt(v) + eps "
                 "sqrt(1 - b2^t)) times lr sqrt(1 - b2^t) / (1 - b1^t), AdamW's reading for "
                 "Adam and AdamW alike (identified as adamw in float32)")


def _optax(factory: str) -> tuple[Configuration, ...]:
    """optax's float32 run (its scalars float32: identified as such), its x64 run, and its
    runs built with optax.inject_hyperparams (the hyperparameters in the state, where a
    schedule sets them between steps; in float32 held there as binary32 numbers:
    identified as such)."""
    spec = f"optax:{factory}"
    return (Configuration("float32", spec), Configuration("x64", spec, dtype="float64"),
            Configuration("inject_hyperparams, float32", spec, {"inject_hyperparams": True}),
            Configuration("inject_hyperparams, x64", spec, {"inject_hyperparams": True},
                          dtype="float64"))


#: optax.adamw merges the decay into the update, which no probe tells from decoupled decay
_OPTAX_ADAMW = ("optax/_src/alias.py: adamw = chain(scale_by_adam(b1, b2, eps, eps_root), "
                "add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate)):"
                " theta - lr (u + wd theta), decoupled decay merged into the update; its "
                "scalars are float32 in the float32 run (identified as such for optax.adam)")


def _optax_amsgrad_paper() -> tuple[Configuration, ...]:
    """optax.amsgrad with both bias corrections off: the AMSGrad paper's Algorithm 2."""
    spec, flags = "optax:amsgrad", {"bias_correction_mu": False, "bias_correction_nu": False}
    label = "bias_correction_mu=False, bias_correction_nu=False"
    return (Configuration(label, spec, flags),
            Configuration(label, spec, flags, dtype="float64"))


def _optax_eps_root() -> tuple[Configuration, ...]:
    """optax.adam with a constant inside the root (``eps_root``, documented for
    differentiating through Adam): identify carries the keyword into every reading."""
    spec, flags = "optax:adam", {"eps_root": 1e-8}
    return (Configuration("eps_root=1e-8", spec, flags),
            Configuration("eps_root=1e-8", spec, flags, dtype="float64"))


def _optax_amsgrad_one_correction() -> tuple[Configuration, ...]:
    """optax.amsgrad with one of its bias corrections off: only the other moment is divided
    (``bias_correction=v`` and ``bias_correction=m``)."""
    spec = "optax:amsgrad"
    return (Configuration("bias_correction_mu=False", spec, {"bias_correction_mu": False}),
            Configuration("bias_correction_nu=False", spec, {"bias_correction_nu": False},
                          dtype="float64"))


def _optax_adamw() -> tuple[Configuration, ...]:
    spec = "optax:adamw"
    return (Configuration("float32", spec, convention="optax-adam,weight_decay=merged,"
                          "scalars=float32", documented=_OPTAX_ADAMW),
            Configuration("x64", spec, dtype="float64",
                          convention="optax-adam,weight_decay=merged", documented=_OPTAX_ADAMW),
            Configuration("inject_hyperparams, float32", spec, {"inject_hyperparams": True},
                          convention="optax-adam,weight_decay=merged,scalars=float32-held",
                          documented=_OPTAX_ADAMW),
            Configuration("inject_hyperparams, x64", spec, {"inject_hyperparams": True},
                          dtype="float64", convention="optax-adam,weight_decay=merged",
                          documented=_OPTAX_ADAMW))


KERAS_BFLOAT16_SCALARS = Finding(
    "update_step casts the step count, beta_1, beta_2 and lr to the variable's dtype and forms "
    "alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t) there: bfloat16 rounds every beta_2 above "
    "1 - 2^-9, the default 0.999 included, to 1, so 1 - beta_2^t = 0, alpha = 0 and no step "
    "moves a parameter, whatever the gradient and lr; below that its beta_2 changes 1 - beta_2 "
    "by up to 2^-9 / (1 - beta_2) relatively (17% at 0.99), moving theta several bfloat16 "
    "ulps from the exact step; m and v, updated with 1 - beta as Python numbers, are within "
    "their bounds",
    "keras_bfloat16_beta2_rounds_to_one.py", when=r"theta\[")


KERAS_TORCH_DECAY_FACTOR = Finding(
    "Keras 3's torch backend overrides _apply_weight_decay with torch._foreach_mul_(variables, "
    "1 - weight_decay * lr), lr its float32 variable: the factor is formed and rounded in "
    "float32, so a float64 parameter is decayed by a binary32 number (some 10^8 float64 ulps "
    "of theta per decayed step), where Keras' own implementation, which the jax backend runs, "
    "forms variable - variable * wd * lr in the variable's dtype",
    "keras_torch_float64_decay_factor_in_float32.py", when=r"theta\[")

_KERAS_FLOAT64 = ("keras/src/optimizers/adam.py: lr = ops.cast(learning_rate, variable.dtype) "
                  "from the float32 learning-rate variable (backend.floatx()), the betas, "
                  "epsilon and weight_decay Python numbers cast to the variable's dtype, "
                  "alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t) beside sqrt(v) + epsilon "
                  "(keras-adam with lr held as a binary32 number, scalars=float32-lr)")


def _keras(cls: str) -> tuple[Configuration, ...]:
    """Keras 3's optimizer on the torch and jax backends, float32 and bfloat16 (in bfloat16
    identified by float32 probes, as every narrow dtype), and float64 (the jax backend with
    JAX's x64 mode, as a float64 user runs it), verified against its documented reading:
    lr held in binary32, the rest in float64."""
    spec = f"keras.optimizers:{cls}"
    return (*(
        Configuration(f"{backend} backend", spec, dtype=dtype,
                      variables={"KERAS_BACKEND": backend},
                      findings=(KERAS_BFLOAT16_SCALARS,) if dtype == "bfloat16" else ())
        for dtype in ("float32", "bfloat16") for backend in ("torch", "jax")), *(
        Configuration(f"{backend} backend", spec, dtype="float64",
                      variables={"KERAS_BACKEND": backend},
                      convention="keras-adam,scalars=float32-lr", documented=_KERAS_FLOAT64,
                      findings=(KERAS_TORCH_DECAY_FACTOR,) if backend == "torch" else ())
        for backend in ("torch", "jax")))


ADAM_CONFIGURATIONS: tuple[Configuration, ...] = (
    *_torch("Adam", (TORCH_ADAM_DIFFERENTIABLE_RELOAD,)),
    *_torch("AdamW", ()),  # decoupled decay: the moments carry no history
    *_torch_amsgrad(),
    *_torch_compiled(),
    *_torch_cuda(),
    *_optax("adam"), *_optax_eps_root(), *_optax_adamw(), *_optax("amsgrad"),
    *_optax_amsgrad_paper(), *_optax_amsgrad_one_correction(),
    *_keras("Adam"), *_keras("AdamW"),
    *_bitsandbytes(),
)

#: Adam's implementations that were considered and are not in the matrix yet, and why
ADAM_NOT_RUN: Mapping[str, str] = {
    "bitsandbytes' 8-bit optimizers (Adam8bit, AdamW8bit, LAMB8bit)": (
        "their states are quantised to 8 bits per element in blocks of 256 (dynamic maps "
        "with a per-block absmax), an error no model here states yet; below min_8bit_size "
        "(4096 elements) they keep float32 states and step as the 32-bit rows above"),
    "bitsandbytes' paged optimizers (PagedAdam, PagedAdamW and their 8- and 32-bit twins)": (
        "paging keeps the states in CUDA unified memory; on the CPU they warn 'Paged "
        "optimizers are not supported on CPU' and step as the non-paged ones above, so they "
        "are CUDA rows, for a run on a GPU"),
}
