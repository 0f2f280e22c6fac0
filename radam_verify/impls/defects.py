"""The defect catalogue: RAdam implementations that are each wrong in exactly one way.

Every class is :class:`~radam_verify.impls.torch_radam.ConventionRAdam` (pytorch
convention) with one stage overridden. The conformance suite must reject every one, and
for its reason: each class states in ``shows`` the property its defect must fail and the
quantity that property must find different (``tests/test_catalogue.py`` runs the suite on
each, checks both, and prints the mutation score counted that way). They include the two
false statements of the derivation (``AdamStepBelowThreshold``, ``WrongRectifier``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch

from radam_verify.coefficients import Coefficients, textbook_coefficients
from radam_verify.hyper import Hyper
from radam_verify.impls.torch_radam import ConventionRAdam


@dataclass(frozen=True)
class Shows:
    """What a defect must make the suite report to count as rejected for its reason.

    ``property``: the packaged property (test name) that must fail; ``quantities``: what its
    counterexample must find different, as the verdict names it (``theta``, ``m``, ``v``;
    ``state_dict`` for a reloaded run that differs; ``gradient`` or ``hyperparameters`` a
    step changed; ``closure`` for what step(closure) did with its closure).
    """

    property: str
    quantities: tuple[str, ...]

    def seen_in(self, verdict: dict[str, Any]) -> Seen:
        """What a JSON verdict shows of this: the quantity the property's failure differs in
        (None if it did not fail), the properties that failed, those the suite raised in."""
        # a property run on each code path counts under its own name ([default] without paths)
        failed = {p["property"].split("[")[0]: (p.get("failure") or {}).get("quantity")
                  for p in verdict["properties"] if p["outcome"] == "failed"}
        errors = [p["property"] for p in verdict["properties"] if p["outcome"] == "error"]
        return Seen(failed.get(self.property), sorted(failed), errors)


@dataclass(frozen=True)
class Seen:
    """How a verdict rejected a defect: a kill counts only when the property named in its
    ``shows`` failed in one of its quantities and the suite itself raised nowhere (a crash
    of the suite is never a kill)."""

    found: str | None  # the quantity the named property's counterexample differs in
    failed: list[str]
    errors: list[str]

    def killed(self, shows: Shows) -> bool:
        return not self.errors and self.found in shows.quantities


class Defect(ConventionRAdam):
    """A catalogue entry: wrong in exactly one way, which ``shows`` says how to see.

    ``verify_convention`` is the reading it is verified against; ``correct`` the correct
    implementation it varies (its repro scripts exit 0 there)."""

    shows: ClassVar[Shows]
    verify_convention: ClassVar[str] = "pytorch"
    correct: ClassVar[str] = "radam_verify.impls.torch_radam:ConventionRAdam"

    @classmethod
    def spec(cls) -> str:
        """``MODULE:ATTR`` of this defect, for ``--verify-impl``."""
        return f"{cls.__module__}:{cls.__name__}"


class AdamStepBelowThreshold(Defect):
    """False statement: "if rho_t <= 5 then r_t = 1 and take the Adam step"."""

    shows = Shows("test_trajectories_stay_within_the_global_bound", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        if c.rectified:
            return c
        bc1, bc2 = 1 - h.beta1**t, 1 - h.beta2**t
        return replace(c, rectified=True, updates=True, r_t=1.0,
                       coeff=h.lr * math.sqrt(bc2) / bc1)


class WrongRectifier(Defect):
    """False statement: r_t = sqrt((rho_t-4)(rho_inf-4)/((rho_inf-2) rho_t)) (its limit is not 1)."""

    shows = Shows("test_late_steps_with_r_t_near_one_match_the_exact_step", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        if not c.rectified:
            return c
        rho_inf = 2 / (1 - h.beta2) - 1
        rho_t = rho_inf - 2 * t * h.beta2**t / (1 - h.beta2**t)
        r = math.sqrt((rho_t - 4) * (rho_inf - 4) / ((rho_inf - 2) * rho_t))
        return replace(c, coeff=c.coeff / c.r_t * r, r_t=r)


class ThresholdOnStepCount(Defect):
    """Rectifies when the step count t exceeds 5 instead of rho_t."""

    shows = Shows("test_steps_around_the_threshold_follow_the_exact_branch", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        if (t > 5) == c.rectified:
            return c
        bc1, bc2 = 1 - h.beta1**t, 1 - h.beta2**t
        if t > 5:
            rho_inf = 2 / (1 - h.beta2) - 1
            rho_t = rho_inf - 2 * t * h.beta2**t / bc2
            square = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            r = math.sqrt(abs(square))
            return replace(c, rectified=True, updates=True, r_t=r, coeff=h.lr * r * math.sqrt(bc2) / bc1)
        return replace(c, rectified=False, updates=True, r_t=1.0, coeff=h.lr / bc1)


class NoSecondBiasCorrection(Defect):
    """The factor sqrt(1 - beta2^t) is missing from the rectified step."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        return replace(c, coeff=c.coeff / math.sqrt(1 - h.beta2**t)) if c.rectified else c


class NoFirstBiasCorrection(Defect):
    """m is not divided by 1 - beta1^t."""

    shows = Shows("test_trajectories_stay_within_the_global_bound", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        return replace(c, coeff=c.coeff * (1 - h.beta1**t))


class EpsInsideSqrt(Defect):
    """eps added under the square root: sqrt(v + eps)."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("theta",))

    def denominator(self, v: torch.Tensor, c: Coefficients, h: Hyper) -> torch.Tensor:
        return (v + h.eps).sqrt()


class SwappedBetas(Defect):
    """beta1 and beta2 exchanged in the moment updates."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("m", "v"))

    def moments(self, state: dict[str, Any], grad: torch.Tensor, h: Hyper) -> None:
        super().moments(state, grad, replace(h, beta1=h.beta2, beta2=h.beta1))


class StateOutsideStateDict(Defect):
    """The step counter lives in an attribute of the optimizer, not in its state_dict."""

    shows = Shows("test_state_dict_round_trip_continues_exactly", ("state_dict",))

    counters: dict[int, int]

    def count(self, state: dict[str, Any]) -> int:
        counters = self.__dict__.setdefault("counters", {})  # per optimizer, never saved
        key = id(state["exp_avg"])
        counters[key] = counters.get(key, 0) + 1
        state["step"] = counters[key]
        return int(counters[key])


class LowPrecisionSecondMoment(Defect):
    """The second moment is stored in bfloat16."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("v",))

    def init_state(self, param: torch.Tensor) -> dict[str, Any]:
        state = super().init_state(param)
        state["exp_avg_sq"] = state["exp_avg_sq"].to(torch.bfloat16)
        return state

    def denominator(self, v: torch.Tensor, c: Coefficients, h: Hyper) -> torch.Tensor:
        return super().denominator(v.to(torch.float32), c, h)


class Float32Schedule(Defect):
    """rho_inf, rho_t, r_t and the bias corrections evaluated in float32."""

    shows = Shows("test_steps_around_the_threshold_follow_the_exact_branch", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        f = torch.float32
        b1, b2, step = (torch.tensor(x, dtype=f) for x in (h.beta1, h.beta2, float(t)))
        bc1, bc2 = 1 - b1**step, 1 - b2**step
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * step * b2**step / bc2
        c = textbook_coefficients(t, h, self.convention)
        if rho_t > self.convention.threshold:
            r = torch.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            return replace(c, rectified=True, updates=True, r_t=float(r),
                           coeff=float(h.lr * r * torch.sqrt(bc2) / bc1))
        return replace(c, rectified=False, updates=True, r_t=1.0, coeff=float(h.lr / bc1))


class PerGroupHyperparametersIgnored(Defect):
    """Every group uses the constructor's defaults instead of its own hyperparameters."""

    shows = Shows("test_parameter_groups_keep_their_own_hyperparameters", ("theta", "m", "v"))

    def hyper(self, group: dict[str, Any]) -> Hyper:
        return super().hyper({**group, **self.defaults})


class BetasKeptFromFirstStep(Defect):
    """Each group's betas are read on its first step and kept, as a cache of the schedule's
    constants would keep them: betas a schedule sets in the live group later are ignored."""

    shows = Shows("test_hyperparameters_set_between_steps_take_effect", ("theta", "m", "v"))

    def hyper(self, group: dict[str, Any]) -> Hyper:
        kept: dict[int, tuple[float, float]] = self.__dict__.setdefault("_betas", {})
        betas = kept.setdefault(self.param_groups.index(group), group["betas"])
        return super().hyper({**group, "betas": betas})


class GradientModifiedInPlace(Defect):
    """Weight decay and maximize are applied to param.grad in place."""

    shows = Shows("test_step_leaves_gradients_and_hyperparameters_unchanged", ("gradient",))

    def gradient(self, param: torch.Tensor, grad: torch.Tensor, h: Hyper) -> torch.Tensor:
        if h.maximize:
            grad.neg_()
        if h.weight_decay != 0.0:
            grad.add_(param, alpha=h.weight_decay)
        return grad


class DecayAfterUpdate(Defect):
    """With L2 weight decay requested, decays the parameter after the update instead."""

    shows = Shows("test_weight_decay_follows_the_convention", ("m", "v"))

    def gradient(self, param: torch.Tensor, grad: torch.Tensor, h: Hyper) -> torch.Tensor:
        return -grad if h.maximize else grad

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        super().update(param, state, c, h)
        param.mul_(1 - h.lr * h.weight_decay)


class StepCountAdvancesWithoutGradient(Defect):
    """The step counter is kept per group and advances for tensors without a gradient."""

    shows = Shows("test_parameter_groups_keep_their_own_hyperparameters", ("theta",))

    @torch.no_grad()
    def step(self, closure: Any = None) -> float | None:  # type: ignore[override]
        for group in self.param_groups:
            group["group_step"] = group.get("group_step", 0) + 1
            for param in group["params"]:
                if param.grad is not None:
                    state = self.state[param]
                    if not state:
                        state.update(self.init_state(param))
                    state["step"] = group["group_step"] - 1
        return super().step(closure)


class OffByOneStep(Defect):
    """The schedule uses the step count before incrementing it (t - 1)."""

    shows = Shows("test_one_step_from_its_own_state_matches_the_exact_step", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        return super().coefficients(max(t - 1, 1), h)


class MaximizeIgnored(Defect):
    """Accepts maximize but always descends."""

    shows = Shows("test_maximize_ascends_as_the_exact_step", ("m",))

    def hyper(self, group: dict[str, Any]) -> Hyper:
        return replace(super().hyper(group), maximize=False)


class RectifierNotSquareRooted(Defect):
    """Uses r_t^2 (the variance ratio) instead of r_t."""

    shows = Shows("test_trajectories_stay_within_the_global_bound", ("theta",))

    def coefficients(self, t: int, h: Hyper) -> Coefficients:
        c = super().coefficients(t, h)
        return replace(c, coeff=c.coeff * c.r_t, r_t=c.r_t**2) if c.rectified else c


class LrFloor(Defect):
    """Clamps lr to at least 1e-10 (a "safe" minimum), so lr = 0 and subnormal lr still step."""

    shows = Shows("test_scalars_at_the_edges_of_their_domain_follow_the_exact_step", ("theta",))

    def hyper(self, group: dict[str, Any]) -> Hyper:
        h = super().hyper(group)
        return replace(h, lr=max(h.lr, 1e-10))


class ClosureUnderNoGrad(Defect):
    """Calls the closure inside its own ``torch.no_grad()`` (a closure that calls backward()
    then fails), and returns None instead of the closure's loss."""

    shows = Shows("test_step_calls_its_closure_once_and_returns_its_loss", ("closure",))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        if closure is not None:
            closure()
        super().step()
        return None


class TailWithoutRectifier(Defect):
    """A 16-lane vector body and a scalar tail, where the tail of a tensor of more than 16
    elements steps without the rectifier r_t (as a hand-written remainder loop might): only
    tensors whose size is not a multiple of 16 and above 16 show it."""

    shows = Shows("test_tensors_of_every_size_and_shape_follow_the_exact_step", ("theta",))
    LANES = 16

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        n = param.numel()
        body = n - n % self.LANES
        if n <= self.LANES or body == n or not c.rectified or c.r_t == 0:
            super().update(param, state, c, h)
            return
        flat = {key: state[key].view(-1) for key in ("exp_avg", "exp_avg_sq")}
        values = param.view(-1)
        super().update(values[:body], {k: x[:body] for k, x in flat.items()}, c, h)
        super().update(values[body:], {k: x[body:] for k, x in flat.items()},
                       replace(c, coeff=c.coeff / c.r_t), h)


class ChunksRoundedDown(Defect):
    """Updates a parameter in chunks of 2048 elements, as multi-tensor kernels split their
    work, and counts the chunks as n // 2048 instead of rounding up: the last, partial
    chunk of a tensor of more than 2048 elements (not a multiple of 2048) is never updated
    (its moments are, in a pass of their own). Only tensors of more than 2048 elements,
    not a multiple of 2048, show it, and such tensors are judged by the fast reference
    (:mod:`radam_verify.fast_judge`, above 64 elements); shrunk, its counterexample is the
    smallest such shape of the suite, (4097,), at its last element."""

    shows = Shows("test_tensors_of_every_size_and_shape_follow_the_exact_step", ("theta",))
    CHUNK = 2048

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        n = param.numel()
        covered = n - n % self.CHUNK
        if n <= self.CHUNK or covered == n:
            super().update(param, state, c, h)
            return
        flat = {key: state[key].view(-1)[:covered] for key in ("exp_avg", "exp_avg_sq")}
        super().update(param.view(-1)[:covered], flat, c, h)


class ContiguousWriteBack(Defect):
    """Treats the parameter as its first element and its element count, as a kernel given a
    data pointer and ``numel()`` does: the step of a non-contiguous parameter is computed
    on a contiguous copy and written back as that many consecutive elements of its storage,
    so a strided view writes outside itself and a transposed one in the wrong order."""

    shows = Shows("test_strided_views_follow_the_exact_step_and_write_only_inside_them",
                  ("canary", "theta"))

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        if param.is_contiguous():
            super().update(param, state, c, h)
            return
        work = param.contiguous()
        super().update(work, state, c, h)
        param.as_strided((param.numel(),), (1,)).copy_(work.reshape(-1))


class DataMadeContiguous(Defect):
    """Gives a non-contiguous parameter a contiguous copy of its data before its step
    (``p.data = p.data.contiguous()``, as a wrapper of a kernel that needs contiguous
    memory may do): the parameter then steps exactly, but in new storage, so the view it
    was (the rest of the model's tensor it is a slice of) never sees a step."""

    shows = Shows("test_strided_views_follow_the_exact_step_and_write_only_inside_them",
                  ("storage",))

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        if not param.is_contiguous():
            param.data = param.data.contiguous()
        super().update(param, state, c, h)


class GradientStridesAssumed(Defect):
    """Reads the gradient as ``numel()`` consecutive elements of its storage in the
    parameter's order (as a fused kernel that assumes the gradient is laid out as a
    contiguous parameter): right for a contiguous gradient, wrong values for a gradient
    with strides of its own."""

    shows = Shows("test_strided_views_follow_the_exact_step_and_write_only_inside_them",
                  ("m", "v", "theta"))

    def gradient(self, param: torch.Tensor, grad: torch.Tensor, h: Hyper) -> torch.Tensor:
        if not grad.is_contiguous():
            grad = grad.as_strided((grad.numel(),), (1,)).reshape(grad.shape)
        return super().gradient(param, grad, h)


class MomentsInTheGroupsFirstDtype(Defect):
    """Keeps every tensor's moments in the dtype of its group's first tensor (as a
    multi-tensor kernel that allocates its buffers per group, not per dtype): right for a
    group of one dtype, and for a narrower tensor after a wider one, but a tensor after a
    narrower first one loses its moments' precision."""

    shows = Shows("test_a_tensor_of_another_dtype_in_a_group_is_judged_in_its_own_format",
                  ("m", "v", "theta"))

    def begin(self, group: dict[str, Any]) -> None:
        self.__dict__["held"] = group["params"][0].dtype

    def init_state(self, param: torch.Tensor) -> dict[str, Any]:
        held = self.__dict__["held"]
        return {"step": 0, "exp_avg": torch.zeros_like(param, dtype=held),
                "exp_avg_sq": torch.zeros_like(param, dtype=held)}

    def moments(self, state: dict[str, Any], grad: torch.Tensor, h: Hyper) -> None:
        super().moments(state, grad.to(state["exp_avg"].dtype), h)

    def update(self, param: torch.Tensor, state: dict[str, Any], c: Coefficients, h: Hyper) -> None:
        super().update(param, {**state, **{key: state[key].to(param.dtype)
                                           for key in ("exp_avg", "exp_avg_sq")}}, c, h)


CATALOGUE: dict[str, type[Defect]] = {
    cls.__name__: cls for cls in (
        AdamStepBelowThreshold, WrongRectifier, ThresholdOnStepCount, NoSecondBiasCorrection,
        NoFirstBiasCorrection, EpsInsideSqrt, SwappedBetas, StateOutsideStateDict,
        LowPrecisionSecondMoment, Float32Schedule, PerGroupHyperparametersIgnored,
        BetasKeptFromFirstStep, GradientModifiedInPlace, DecayAfterUpdate,
        StepCountAdvancesWithoutGradient, OffByOneStep, MaximizeIgnored, RectifierNotSquareRooted,
        LrFloor, ClosureUnderNoGrad,
        TailWithoutRectifier, ChunksRoundedDown, ContiguousWriteBack, DataMadeContiguous,
        GradientStridesAssumed, MomentsInTheGroupsFirstDtype,
    )
}
