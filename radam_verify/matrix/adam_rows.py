"""Adam's implementations in the matrix: torch.optim.Adam and AdamW on every CPU code path.

The convention is identified (``auto``): the probes name the algorithm (RAdam or Adam) and
then its reading. Each finding explains a deviation with a stand-alone script in
``reports/repro/``; the findings every torch.optim optimizer inherits are added by
:mod:`radam_verify.matrix.configurations`.
"""

from __future__ import annotations

from collections.abc import Mapping

from radam_verify.matrix.rows import Configuration, Finding, and_float64

TORCH_ADAM_FUSED_STRIDES = Finding(
    "the fused CPU kernel (fused=True) steps a strided parameter as if it were contiguous: "
    "it writes into storage outside the parameter's view and leaves the view's own elements "
    "with values from the wrong positions (a column of a matrix, a slice with a step); the "
    "for-loop and foreach paths step the same view correctly",
    "torch_adam_fused_strided_view.py", "test_strided_views")
TORCH_ADAM_FLOAT32_SCHEDULE = Finding(
    "with differentiable=True the step count is a float32 tensor, so 1 - beta1^t and "
    "1 - beta2^t are formed in float32 from betas rounded to float32 whatever the parameters' "
    "dtype: float64 parameters get float32's schedule (some 10^8 float64 ulps off), and in "
    "float32 the rounding of beta2 to float32 moves sqrt(1 - beta2^t) by tens of ulps in "
    "early steps",
    "torch_adam_float32_schedule.py", when="observed")
TORCH_ADAM_DIFFERENTIABLE_RELOAD = Finding(
    "with differentiable=True and L2 weight decay, exp_avg and exp_avg_sq carry autograd "
    "history (the decayed gradient does); saved by state_dict() they load as leaf tensors "
    "that require grad, and the next step's in-place update of the moments raises "
    "RuntimeError (as RAdam's does)",
    "torch_differentiable_state_reload.py", "test_state_dict_round_trip")


def _torch(cls: str, preset: str, differentiable: tuple[Finding, ...]
           ) -> tuple[Configuration, ...]:
    spec = f"torch.optim:{cls}"
    return and_float64(
        Configuration("for-loop", spec, {"foreach": False}),
        Configuration("foreach", spec, {"foreach": True}),
        Configuration("fused", spec, {"fused": True}, findings=(TORCH_ADAM_FUSED_STRIDES,)),
        # the float32 schedule fails every probe: the reading the other paths show
        Configuration("differentiable", spec, {"differentiable": True}, convention=preset,
                      documented=f"the convention identify finds for {cls} on its other code "
                      "paths; with differentiable=True no convention reproduces the probes, as "
                      "the bias corrections are formed in float32",
                      findings=(TORCH_ADAM_FLOAT32_SCHEDULE, *differentiable)),
    )


ADAM_CONFIGURATIONS: tuple[Configuration, ...] = (
    *_torch("Adam", "adam", (TORCH_ADAM_DIFFERENTIABLE_RELOAD,)),
    *_torch("AdamW", "adamw", ()),  # decoupled decay: the moments carry no history
)

#: Adam's implementations that were considered and are not in the matrix yet, and why
ADAM_NOT_RUN: Mapping[str, str] = {
    "torch.optim.Adam(amsgrad=True)": ("AMSGrad's running maximum of the second moment is "
                                       "not yet a reading of the exact reference"),
}
