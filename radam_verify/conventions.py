"""RAdam conventions: five orthogonal axes, named presets, and the ``NAME[,axis=value]`` syntax.

Real implementations disagree on the threshold rho_t is compared with, the comparison,
what happens below it, where eps goes, and how weight decay is applied. Each is a
legitimate reading of the algorithm, so the reference computes any combination.

Sources of the presets (read in the code they name):

* ``paper``: Liu et al. 2020, Algorithm 2 (``rho_t > 4``; else ``theta - alpha m_hat``; no
  eps, Eq. 1 puts eps beside the square root of the uncorrected average; L2 as in Adam).
* ``pytorch``: ``torch/optim/radam.py`` (``rho_t > 5``, else ``param.add_(bias_corrected_exp_avg * lr,
  alpha=-1)``, ``(bias_correction2**0.5) / (exp_avg_sq.sqrt() + eps)``, L2 by default,
  ``decoupled_weight_decay=True`` gives ``param.mul_(1 - lr * weight_decay)`` on every step).
* ``official``: LiyuanLucasLiu/RAdam ``radam/radam.py`` at d9fd30a (``N_sma >= 5``;
  ``degenerated_to_sgd=False`` gives ``step_size = -1``: no update and no weight decay;
  ``exp_avg_sq.sqrt().add_(eps)`` with ``sqrt(1 - beta2_t)`` in the step size;
  ``p.add_(-wd * lr, p)`` only on steps that update). pytorch-optimizer's default follows it.
* ``official-sgd``: the same code with ``degenerated_to_sgd=True``, as ported by
  torch-optimizer (``torch_optimizer/radam.py``: decay on every step).
* ``optax``: ``optax/_src/transform.py`` ``scale_by_radam`` (``jnp.where(ro >= threshold,
  rectified, mu_hat)`` with threshold 5, ``m_hat / (sqrt(v_hat + eps_root) + eps)``), no
  weight decay in ``optax.radam``.

Adam is RAdam with r_t = 1 on every step and no warm-up phase (``algorithm=adam``); only
the ``bias_correction``, ``eps``, ``eps_root``, ``weight_decay``, ``amsgrad`` and
``scalars`` axes apply to it:

* ``adam``: ``torch/optim/adam.py`` (``denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt)
  .add_(eps)``, ``step_size = lr / bias_correction1``; ``grad = grad.add(param,
  alpha=weight_decay)``), which is Kingma & Ba 2015, Algorithm 1, with L2.
* ``adamw``: ``torch/optim/adamw.py`` (the same step after ``param.mul_(1 - lr *
  weight_decay)``), Loshchilov & Hutter 2019 with the decay scaled by lr.
* ``keras-adam``: ``keras/src/optimizers/adam.py`` (``alpha = lr * sqrt(1 - beta_2_power) /
  (1 - beta_1_power)``, ``m * alpha / (sqrt(v) + epsilon)``: eps beside the raw root, Kingma &
  Ba's "more efficient" order of Section 2), with the base optimizer's decoupled decay
  ``variable - variable * weight_decay * lr``.
* ``optax-adam``: ``optax/_src/transform.py`` ``scale_by_adam`` (``mu_hat / (sqrt(nu_hat +
  eps_root) + eps)`` with ``eps_root = 0``), no weight decay in ``optax.adam``.

AMSGrad (Reddi et al. 2018) is Adam whose denominator reads a running maximum of the second
moment (the ``amsgrad`` axis):

* ``amsgrad``: ``torch/optim/adam.py`` with ``amsgrad=True`` (``torch.maximum(
  max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])``, then ``denom =
  (max_exp_avg_sqs[i].sqrt() / bias_correction2_sqrt).add_(eps)``): the maximum of the raw v,
  then bias-corrected (``amsgrad=v``). Keras 3's ``Adam(amsgrad=True)`` keeps the same maximum
  (``v_hat.assign(ops.maximum(v_hat, v))``) with its eps beside the raw root.
* ``optax-amsgrad``: ``optax/_src/transform.py`` ``scale_by_amsgrad`` (``nu_hat =
  bias_correction(nu, b2, count_inc)``, ``nu_max = jnp.maximum(state.nu_max, nu_hat)``,
  ``mu_hat / (sqrt(nu_max + eps_root) + eps)``): the maximum of the bias-corrected v_hat
  (``amsgrad=v_hat``), no weight decay in ``optax.amsgrad``.
* ``amsgrad-paper``: Reddi et al. 2018, Algorithm 2 (``theta - alpha_t m_t / sqrt(v_hat_t)``
  with ``v_hat_t = max(v_hat_{t-1}, v_t)`` of the raw moments: no bias correction, no weight
  decay; eps beside the root as every implementation adds it), which
  ``optax.amsgrad(bias_correction_mu=False, bias_correction_nu=False)`` computes
  (``optax/_src/transform.py`` ``scale_by_amsgrad``: ``mu_hat = mu`` and ``nu_hat = nu``
  when the flags are off, so its maximum of v_hat is the maximum of v).

Lookahead (Zhang et al. 2019) wraps any of them (the ``lookahead_*`` axes); Ranger is
Lookahead over RAdam:

* ``ranger``: pytorch-ranger ``pytorch_ranger/ranger.py`` (``if N_sma > self.N_sma_threshhold``
  with 5, else ``p_data_fp32.add_(-step_size * group['lr'], exp_avg)`` with ``step_size = 1 /
  (1 - beta1 ** step)``; ``denom = exp_avg_sq.sqrt().add_(group['eps'])`` with sqrt(1 -
  beta2^t) in the step size; ``p_data_fp32.add_(-group['weight_decay'] * group['lr'],
  p_data_fp32)``; ``slow_buffer`` copied from p at the first step, ``if state['step'] %
  group['k'] == 0: slow_p.add_(self.alpha, p.data - slow_p); p.data.copy_(slow_p)``, k = 6,
  alpha = 0.5). pytorch-optimizer's ``Lookahead`` starts its ``slow_params`` at theta too;
  torch-optimizer's ``Lookahead`` starts them after the first step and syncs after steps 1,
  k + 1, 2k + 1, ... (``lookahead_start=first-step``); timm's ``Lookahead`` creates its
  ``lookahead_slow_buff`` at the first sync, which then only sets it
  (``lookahead_start=first-sync``). optax's ``lookahead`` (``optax/_src/lookahead.py``
  ``_lookahead_update``: ``last_difference = f + u - s``, ``slow_updates = slow_step_size *
  sync_next * diff``, ``fast_updates = updates - (1 - slow_step_size) * sync_next * diff``)
  starts from ``LookaheadParams.init_synced(params)`` (theta0) and merges the sync into the
  step's updates (``lookahead_sync=merged``). timm's, torch-optimizer's and pytorch-optimizer's
  wrappers count Lookahead's steps per parameter group, every ``step()`` call
  (``lookahead_count``): timm's ``update_slow`` and pytorch-optimizer's ``update``
  (``collect_trainable_params``) pass over the tensors without a gradient
  (``lookahead_count=group``); torch-optimizer's ``_update`` pulls every tensor of the group
  (``lookahead_count=group-all``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Literal

from radam_verify.errors import ConventionError, OutOfDomainError
from radam_verify.precision import as_binary

if TYPE_CHECKING:
    from radam_verify.hyper import Hyper

Comparison = Literal[">", ">="]
Below = Literal["sgd", "skip"]
EpsPlacement = Literal["hat", "raw"]
Algorithm = Literal["radam", "adam", "lamb"]
Adapt = Literal["always", "with-decay"]
Amsgrad = Literal["none", "v", "v_hat"]
LookaheadStart = Literal["theta0", "first-step", "first-sync"]
#: where Lookahead's slow weights start, every reading
LOOKAHEAD_STARTS: tuple[LookaheadStart, ...] = ("theta0", "first-step", "first-sync")
LookaheadSync = Literal["copy", "merged"]
#: how a sync is evaluated, every reading (the first, a copy, the strictest)
LOOKAHEAD_SYNCS: tuple[LookaheadSync, ...] = ("copy", "merged")
LookaheadCount = Literal["tensor", "group", "group-all"]
#: whose steps Lookahead's syncs follow, every reading (the first, each tensor's, the default)
LOOKAHEAD_COUNTS: tuple[LookaheadCount, ...] = ("tensor", "group", "group-all")
#: what a step ends with under Lookahead: nothing, phi = theta (the first sync of a tensor
#: holding no slow weights yet), or a sync (phi += alpha (theta - phi), theta = phi)
LookaheadAction = Literal["none", "set", "sync"]
Scalars = Literal["float64", "float32", "float32-held", "float32-lr", "float32-betas"]
#: where the bias corrections' powers come from: b^t of the step's own betas (``count``), or
#: the product of the betas of every step the tensor took (``running``)
Powers = Literal["count", "running"]
#: the hyperparameters each reading holds as binary32 numbers (the others as given)
HELD_IN_BINARY32: dict[str, tuple[str, ...]] = {
    "float32-held": ("lr", "beta1", "beta2", "eps", "weight_decay"),
    "float32-lr": ("lr",),
    "float32-betas": ("beta1", "beta2", "eps"),
}
#: both moments bias-corrected (True), neither (False), or only m (``"m"``) or only v (``"v"``)
BiasCorrection = bool | Literal["m", "v"]
WeightDecay = Literal["l2", "decoupled", "decoupled-unscaled", "merged", "none", "in-ratio"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "comparison": (">", ">="),
    "below": ("sgd", "skip"),
    "eps": ("hat", "raw"),
    "weight_decay": ("l2", "decoupled", "decoupled-unscaled", "merged", "none", "in-ratio"),
    "decay_on_skip": ("true", "false"),
    "bias_correction": ("true", "false", "m", "v"),
    "adapt": ("always", "with-decay"),
    "algorithm": ("radam", "adam", "lamb"),
    "scalars": ("float64", "float32", "float32-held", "float32-lr", "float32-betas"),
    "amsgrad": ("none", "v", "v_hat"),
    "lookahead_start": ("theta0", "first-step", "first-sync"),
    "lookahead_sync": ("copy", "merged"),
    "lookahead_count": ("tensor", "group", "group-all"),
    "powers": ("count", "running"),
}

AXES = ("threshold", "comparison", "below", "eps", "eps_root", "weight_decay", "decay_on_skip",
        "scalars", "amsgrad", "bias_correction", "phi_max", "trust_max", "adapt", "clip_norm",
        "lookahead_k", "lookahead_alpha", "lookahead_start", "lookahead_sync", "lookahead_count",
        "powers")
#: the axes whose values are numbers (``inf`` allowed for LAMB's clamps)
NUMBER_AXES = ("threshold", "lookahead_alpha", "phi_max", "trust_max", "clip_norm", "eps_root")
#: Lookahead's axes, a wrapper's: every algorithm reads them (k = 0: no Lookahead)
LOOKAHEAD_AXES = ("lookahead_k", "lookahead_alpha", "lookahead_start", "lookahead_sync",
                  "lookahead_count")

#: The axes each algorithm reads; the others keep their defaults and are not shown.
ALGORITHM_AXES: dict[str, tuple[str, ...]] = {
    "radam": ("threshold", "comparison", "below", "eps", "eps_root", "weight_decay",
              "decay_on_skip", "scalars", "powers", *LOOKAHEAD_AXES),
    "adam": ("bias_correction", "eps", "eps_root", "weight_decay", "amsgrad", "scalars",
             "powers", *LOOKAHEAD_AXES),
    "lamb": ("bias_correction", "eps", "eps_root", "weight_decay", "phi_max", "trust_max",
             "adapt", "clip_norm", "scalars", "powers", *LOOKAHEAD_AXES),
}


@dataclass(frozen=True)
class Convention:
    """One reading of RAdam or Adam: the five axes (plus whether decay runs on skipped steps).

    ``threshold``: the number rho_t is compared with (at least 4, where r_t is real).
    ``comparison``: rectify when ``rho_t > threshold`` or ``rho_t >= threshold``.
    ``below``: ``sgd`` takes ``theta -= lr * m_hat``; ``skip`` leaves theta alone.
    ``eps``: ``hat`` is ``m_hat / (sqrt(v_hat) + eps)``; ``raw`` is
    ``sqrt(1 - beta2^t) m_hat / (sqrt(v_t) + eps)``.
    ``eps_root`` (a number >= 0, 0 by default): a constant added inside the root, to what
    the ``eps`` placement takes the root of: ``sqrt(v_hat + eps_root) + eps`` (optax's
    ``eps_root``: ``scale_by_adam``, ``scale_by_radam``, ``scale_by_amsgrad`` and
    ``scale_by_lamb`` all form ``jnp.sqrt(nu_hat + eps_root) + eps``), or with ``eps=raw``
    ``sqrt(v_t + eps_root) + eps`` (apex's and DeepSpeed's ``eps_inside_sqrt`` kernels,
    ``sqrtf(v + eps)``, are this reading with eps_root equal to their eps and eps = 0).
    ``weight_decay``: ``l2`` adds ``wd * theta`` to the gradient before the moments;
    ``decoupled`` multiplies theta by ``1 - lr * wd`` before the update;
    ``decoupled-unscaled`` by ``1 - wd``; ``merged`` is decoupled decay merged into the
    update, ``theta - lr (u + wd theta)`` (optax's ``add_decayed_weights`` before
    ``scale_by_learning_rate``): exactly ``decoupled``, evaluated with other roundings (the
    bound adds them); ``none`` ignores weight decay.
    ``decay_on_skip``: whether decoupled decay is applied on steps that make no update.
    ``algorithm``: ``radam``, or ``adam``: every step rectified with r_t = 1 (no threshold,
    no warm-up), where only ``bias_correction``, ``eps``, ``eps_root``, ``weight_decay``,
    ``amsgrad`` and ``scalars`` apply.
    ``amsgrad`` (Adam only): ``none``; ``v``: the root is taken of the running maximum
    v_max = max(v_max, v_t) of the raw second moment, bias-corrected as ``eps`` says (torch,
    Keras); ``v_hat``: of the running maximum of v_hat_t = v_t / (1 - beta2^t), eps beside
    its root (optax; only with ``eps=hat``).
    ``lookahead_k``, ``lookahead_alpha`` (Zhang et al. 2019, Lookahead; any algorithm):
    with k > 0 the tensor also keeps slow weights phi, equal to theta before its first step;
    after every step whose count t is a multiple of k, phi += alpha (theta - phi) and theta =
    phi (Ranger is Lookahead over RAdam). k = 0: no Lookahead. ``lookahead_start``: where
    phi starts: ``theta0`` (the paper, Algorithm 1: theta before the first step);
    ``first-step`` (theta after step 1, then a sync after steps 1 + k, 1 + 2k, ...:
    torch-optimizer); ``first-sync`` (theta after step k, whose sync only sets phi: timm).
    ``lookahead_sync``: how a sync is evaluated: ``copy`` forms phi + alpha (theta - phi)
    and copies it into theta (every torch wrapper); ``merged`` folds the sync into one
    update of each (optax: d = theta + u - phi, phi += alpha d, theta += u - (1 - alpha) d),
    the same exact step with other roundings, so theta and phi after a sync differ by them
    (the bound adds them, error-model.md, section 2). ``lookahead_count``: what counts the
    steps the syncs follow: ``tensor``, each tensor's own steps (a tensor without a gradient
    is not stepped and keeps its phase); ``group``, its group's steps (every ``step()``
    call), a tensor synced on the group's sync steps where it has a gradient then (its slow
    weights set at the first of them it takes part in, where the reading starts them at a
    sync); ``group-all``, the group's steps, every tensor of the group synced on them, with
    a gradient or without (timm and pytorch-optimizer; torch-optimizer).
    ``powers`` (any algorithm): where the powers in the bias corrections (and in RAdam's
    rho_t = rho_inf - 2 t b2^t / (1 - b2^t)) come from: ``count``, b1^t and b2^t of the
    step's own betas and the tensor's step count; ``running``, the products of the betas of
    every step the tensor took, as accumulators multiplied by each step's beta hold them
    (PaddlePaddle's ``beta1_pow`` and ``beta2_pow``; its rho accumulator's recursion keeps
    it equal to t P2 / (1 - P2), P2 the product: derivation ``running-rho``). The two differ
    only once a schedule changes a beta; rho_inf is always the step's own.
    ``algorithm=lamb`` (You et al. 2020, LAMB): Adam's direction u = m_hat / (sqrt(v_hat) +
    eps) (``eps`` as for Adam), w = u + wd theta (``weight_decay=in-ratio``; ``decoupled``
    and ``l2`` as for Adam, theta's norm then read after the decay), and per tensor the
    trust ratio R = min(phi(||theta||) / ||w||, ``trust_max``) with phi(x) = min(x,
    ``phi_max``), R = 1 where either norm is zero; theta -= lr R w. ``bias_correction``:
    whether m and v are divided by 1 - beta^t (LAMB's last version; Adam and AMSGrad as
    torch, optax and Keras read them) or used raw (LAMB's first version and torch-optimizer's;
    the AMSGrad paper's Algorithm 2); ``m`` or ``v``: only that moment is divided
    (optax's ``amsgrad`` with one of ``bias_correction_mu``, ``bias_correction_nu`` off).
    Where v is not divided (``false``, ``m``) ``eps=raw`` and ``eps=hat`` are one reading,
    and so are ``amsgrad=v`` and ``amsgrad=v_hat``. ``adapt``: ``always``, or
    ``with-decay``: R is applied only to a tensor whose weight decay is not zero (timm's
    ``always_adapt=False``), plain Adam otherwise. ``clip_norm`` (LAMB only; ``inf``: none):
    before the step every gradient of every tensor of every group is divided by
    max(1, ||G|| / clip_norm), ||G|| the norm of all of them together (timm's
    ``max_grad_norm``, 1.0 by default: ``radam_verify/clipping.py``).
    ``scalars``: the per-step scalars (bias corrections, rho_t, r_t, the step's coefficient)
    formed in ``float64`` from the hyperparameters as given, or in ``float32`` from beta1 and
    beta2 rounded to binary32 (a float32 step count tensor, or a framework whose scalars are
    float32): exact arithmetic on the rounded betas, judged with binary32's error model;
    or ``float32-held``: the hyperparameters themselves are held as binary32 numbers (lr,
    beta1, beta2, eps and the weight decay, as ``optax.inject_hyperparams`` holds them in
    float32), so every use of them, the moments' 1 - beta included, is exact arithmetic on
    the rounded values (:meth:`held`), the scalars formed in binary32 as for ``float32``;
    or ``float32-lr``: the learning rate alone is held as a binary32 number, every other
    hyperparameter and the scalars in binary64 (Keras 3 on float64 parameters: its
    ``learning_rate`` is a float32 variable cast to the parameters' dtype, its betas, eps
    and weight decay Python numbers cast to it); or ``float32-betas``: beta1, beta2 and eps
    held as binary32 numbers, so the moments' 1 - beta too is formed from the rounded betas,
    lr, the weight decay and the scalars in binary64 (PaddlePaddle on float64 parameters:
    its kernels take beta1, beta2 and epsilon as ``float`` attributes and compute in the
    parameters' dtype, lr a tensor of that dtype and the weight decay a double).
    """

    threshold: float = 5.0
    comparison: Comparison = ">"
    below: Below = "sgd"
    eps: EpsPlacement = "raw"
    weight_decay: WeightDecay = "l2"
    decay_on_skip: bool = True
    name: str | None = None
    algorithm: Algorithm = "radam"
    scalars: Scalars = "float64"
    amsgrad: Amsgrad = "none"
    lookahead_k: int = 0
    lookahead_alpha: float = 0.5
    lookahead_start: LookaheadStart = "theta0"
    lookahead_sync: LookaheadSync = "copy"
    bias_correction: BiasCorrection = True
    phi_max: float = math.inf
    trust_max: float = math.inf
    adapt: Adapt = "always"
    clip_norm: float = math.inf
    eps_root: float = 0.0
    lookahead_count: LookaheadCount = "tensor"
    powers: Powers = "count"

    def __post_init__(self) -> None:
        for axis in ("algorithm", "scalars", "amsgrad", "lookahead_start", "lookahead_sync",
                     "lookahead_count", "adapt", "powers"):
            if getattr(self, axis) not in _CHOICES[axis]:
                raise ConventionError(_bad_value(axis, str(getattr(self, axis))))
        for axis in AXES:
            if (axis not in ALGORITHM_AXES[self.algorithm]
                    and getattr(self, axis) != _DEFAULTS[axis]):
                raise ConventionError(_foreign_axis(axis, self.algorithm))
        if not (isinstance(self.lookahead_k, int) and self.lookahead_k >= 0):
            raise ConventionError(f"lookahead_k={self.lookahead_k!r}: use a whole number of "
                                  "steps >= 1 (0: no Lookahead)")
        if not 0 < self.lookahead_alpha <= 1:
            raise ConventionError(f"lookahead_alpha={self.lookahead_alpha!r}: use a number in "
                                  "(0, 1]")
        if not self.lookahead and any(getattr(self, axis) != _DEFAULTS[axis]
                                      for axis in LOOKAHEAD_AXES[1:]):
            raise ConventionError("lookahead_alpha, lookahead_start, lookahead_sync and "
                                  "lookahead_count apply to Lookahead: give lookahead_k >= 1 "
                                  "too")
        if self.bias_correction not in (True, False, "m", "v"):
            raise ConventionError(_bad_value("bias_correction", str(self.bias_correction)))
        if not (isinstance(self.eps_root, (int, float)) and 0 <= self.eps_root < math.inf):
            raise ConventionError(f"eps_root={self.eps_root!r}: use a finite number >= 0 "
                                  "(0: nothing inside the root)")
        for axis in ("phi_max", "trust_max", "clip_norm"):
            if not getattr(self, axis) > 0:
                raise ConventionError(f"{axis}={getattr(self, axis)!r}: use a number > 0 "
                                      "(inf: no clamp)")
        if self.weight_decay == "in-ratio" and not self.is_lamb:
            raise ConventionError("weight_decay=in-ratio adds the decay to LAMB's direction "
                                  "before its trust ratio: it applies to lamb only")
        if self.is_lamb and self.weight_decay in ("merged", "decoupled-unscaled"):
            raise ConventionError(f"weight_decay={self.weight_decay} is not a LAMB reading; "
                                  "use in-ratio, decoupled, l2 or none")
        if self.amsgrad == "v_hat" and self.eps != "hat":
            raise ConventionError("amsgrad=v_hat takes the root of the running maximum of "
                                  "v_hat, so eps sits beside sqrt(v_hat): use eps=hat")
        if not self.threshold >= 4:
            raise ConventionError(
                f"threshold={self.threshold!r} is below 4, where r_t is not real; use a value >= 4"
            )
        for axis in ("comparison", "below", "eps", "weight_decay"):
            value = getattr(self, axis)
            if value not in _CHOICES[axis]:
                raise ConventionError(_bad_value(axis, str(value)))

    @property
    def decays_with_lr(self) -> bool:
        """Decoupled decay scaled by lr: ``theta (1 - lr wd)``, multiplied or merged."""
        return self.weight_decay in ("decoupled", "merged")

    @property
    def float32_scalars(self) -> bool:
        """The per-step scalars are formed in binary32 from betas rounded to binary32."""
        return self.scalars in ("float32", "float32-held")

    def held(self, hyper: Hyper) -> Hyper:
        """The hyperparameters as the reading holds them: as given, lr alone rounded to
        binary32 (``float32-lr``), beta1, beta2 and eps rounded to binary32
        (``float32-betas``), or (``float32-held``) lr,
        beta1, beta2, eps and the weight decay rounded to binary32, the numbers every exact
        step of the reading then uses. A beta that rounds to 1 leaves 1 - beta^t = 0, where
        the step is undefined: out of the reading's domain."""
        names = HELD_IN_BINARY32.get(self.scalars, ())
        if not names:
            return hyper
        held = {name: as_binary(getattr(hyper, name), "float32") for name in names}
        if held.get("beta1", 0.0) >= 1.0 or held.get("beta2", 0.0) >= 1.0:
            raise OutOfDomainError(
                f"beta1={hyper.beta1!r}, beta2={hyper.beta2!r}: a beta held in binary32 "
                "rounds to 1, where 1 - beta^t = 0 and the step is undefined")
        overflows = [name for name, value in held.items() if not math.isfinite(value)]
        if overflows:
            raise OutOfDomainError(f"{', '.join(f'{n}={getattr(hyper, n)!r}' for n in overflows)}"
                                   " overflows binary32, where the reading holds it")
        return replace(hyper, **held)  # type: ignore[arg-type]

    @property
    def corrects_m(self) -> bool:
        """m is divided by 1 - beta1^t (``bias_correction`` true or ``m``)."""
        return self.bias_correction in (True, "m")

    @property
    def corrects_v(self) -> bool:
        """v is divided by 1 - beta2^t (``bias_correction`` true or ``v``)."""
        return self.bias_correction in (True, "v")

    @property
    def root_offset(self) -> float:
        """eps_root as the reading adds it inside the root: as given, or (``float32-held``,
        as ``optax.inject_hyperparams`` holds it beside eps) rounded to binary32."""
        if self.scalars == "float32-held":
            return as_binary(self.eps_root, "float32")
        return self.eps_root

    @property
    def keeps_max(self) -> bool:
        """AMSGrad: the state holds a running maximum of the second moment (v_max)."""
        return self.amsgrad != "none"

    @property
    def lookahead(self) -> bool:
        """Lookahead wraps the algorithm: the state keeps slow weights phi."""
        return self.lookahead_k > 0

    @property
    def quantities(self) -> tuple[str, ...]:
        """What a tensor's state holds under this reading, in the judges' order: theta, m,
        v, then AMSGrad's v_max and Lookahead's slow weights where the reading keeps them."""
        return (("theta", "m", "v") + (("v_max",) if self.keeps_max else ())
                + (("slow",) if self.lookahead else ()))

    def syncs(self, t: int) -> bool:
        """Whether step ``t`` (the tensor's count after it) ends with Lookahead's sync:
        phi += alpha (theta - phi), theta = phi (counting the tensor's steps)."""
        return self.lookahead_action(t) == "sync"

    def sets_slow(self, t: int) -> bool:
        """Whether step ``t`` ends by setting phi to theta (where the reading starts phi
        after a step: step 1, or step k), theta unchanged (counting the tensor's steps)."""
        return self.lookahead_action(t) == "set"

    def lookahead_action(self, t: int, clock: int | None = None, *, stepped: bool = True,
                         holds: bool | None = None) -> LookaheadAction:
        """What Lookahead does at the end of a step: ``sync``, ``set`` (phi = theta: a sync
        point of a tensor that holds no slow weights yet) or ``none``. ``t``: the tensor's
        step count after the step; ``clock``: its group's count of steps after it (None: t,
        as where every step gave the tensor a gradient); ``stepped``: whether the tensor had
        a gradient; ``holds``: whether it held slow weights before (None: as its count says)."""
        if not self.lookahead or not (stepped or self.lookahead_count == "group-all"):
            return "none"
        n = t if self.lookahead_count == "tensor" or clock is None else clock
        k = self.lookahead_k
        if not (n >= 1 and (n - (self.lookahead_start == "first-step")) % k == 0):
            return "none"
        if holds is None:
            holds = self.holds_slow(t - 1)
        return "sync" if holds else "set"

    def holds_slow(self, t: int) -> bool:
        """Whether a tensor that has taken ``t`` steps holds slow weights."""
        return self.lookahead and t >= self.slow_from

    @property
    def slow_from(self) -> int:
        """The step count from which a tensor holds slow weights (0: from the start; k
        where the first sync sets them)."""
        return {"theta0": 0, "first-step": 1,
                "first-sync": self.lookahead_k}[self.lookahead_start]

    @property
    def is_adam(self) -> bool:
        """Adam's direction: every step is rectified with r_t = 1 exactly (Adam, and LAMB,
        whose step scales Adam's direction)."""
        return self.algorithm in ("adam", "lamb")

    @property
    def is_lamb(self) -> bool:
        """LAMB: Adam's direction scaled per tensor by the trust ratio."""
        return self.algorithm == "lamb"

    def trusts(self, weight_decay: float) -> bool:
        """Whether LAMB's step applies the trust ratio (``adapt=with-decay``: only for a
        tensor whose weight decay is not zero, as timm's ``always_adapt=False``)."""
        return self.is_lamb and (self.adapt == "always" or weight_decay != 0.0)

    def rectifies(self, rho_minus_threshold_sign: int) -> bool:
        """The branch for the sign (-1, 0, +1) of ``rho_t - threshold`` (Adam: always)."""
        if self.is_adam:
            return True
        if rho_minus_threshold_sign == 0:
            return self.comparison == ">="
        return rho_minus_threshold_sign > 0

    @property
    def spec(self) -> str:
        """The canonical ``NAME[,axis=value]`` string of this convention."""
        default = "paper" if self.algorithm == "radam" else self.algorithm
        named = self.name in PRESETS and PRESETS[self.name].algorithm == self.algorithm
        base_name = self.name if named and self.name is not None else default
        base = PRESETS[base_name]
        parts = [base_name]
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name not in ("name", "algorithm") and value != getattr(base, field.name):
                parts.append(f"{field.name}={_format(value)}")
        return ",".join(parts)

    def axes(self) -> dict[str, object]:
        """The algorithm and the values of the axes it reads, as plain JSON-ready data
        (Lookahead's only with Lookahead, eps_root only where it is not 0, lookahead_count
        only where it is not ``tensor``, powers only where it is not ``count``)."""
        return {"algorithm": self.algorithm,
                **{axis: getattr(self, axis) for axis in ALGORITHM_AXES[self.algorithm]
                   if (self.lookahead or axis not in LOOKAHEAD_AXES)
                   and (self.eps_root or axis != "eps_root")
                   and (self.lookahead_count != "tensor" or axis != "lookahead_count")
                   and (self.powers != "count" or axis != "powers")}}


#: each axis's default value (what an algorithm that does not read the axis keeps)
_DEFAULTS = {field.name: field.default for field in fields(Convention)}


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _foreign_axis(axis: str, algorithm: str) -> str:
    owners = " and ".join(f"{_NAMES[a]}'s" for a, axes in ALGORITHM_AXES.items() if axis in axes)
    return (f"axis {axis!r} is {owners} and does not apply to {algorithm}; "
            f"{algorithm} reads only: {', '.join(ALGORITHM_AXES[algorithm])}")


_NAMES = {"radam": "RAdam", "adam": "Adam", "lamb": "LAMB"}


def _bad_value(axis: str, value: str) -> str:
    return f"unknown value {value!r} for axis {axis!r}; choose one of: {', '.join(_CHOICES[axis])}"


PRESETS: dict[str, Convention] = {
    "paper": Convention(4.0, ">", "sgd", "raw", "l2", True, "paper"),
    "pytorch": Convention(5.0, ">", "sgd", "raw", "l2", True, "pytorch"),
    "official": Convention(5.0, ">=", "skip", "raw", "decoupled", False, "official"),
    "official-sgd": Convention(5.0, ">=", "sgd", "raw", "decoupled", True, "official-sgd"),
    "optax": Convention(5.0, ">=", "sgd", "hat", "none", True, "optax"),
    "adam": Convention(eps="hat", weight_decay="l2", name="adam", algorithm="adam"),
    "adamw": Convention(eps="hat", weight_decay="decoupled", name="adamw", algorithm="adam"),
    "keras-adam": Convention(eps="raw", weight_decay="decoupled", name="keras-adam",
                             algorithm="adam"),
    "optax-adam": Convention(eps="hat", weight_decay="none", name="optax-adam", algorithm="adam"),
    "amsgrad": Convention(eps="hat", weight_decay="l2", name="amsgrad", algorithm="adam",
                          amsgrad="v"),
    "optax-amsgrad": Convention(eps="hat", weight_decay="none", name="optax-amsgrad",
                                algorithm="adam", amsgrad="v_hat"),
    "amsgrad-paper": Convention(eps="hat", weight_decay="none", name="amsgrad-paper",
                                algorithm="adam", amsgrad="v", bias_correction=False),
    "lamb": Convention(eps="hat", weight_decay="in-ratio", name="lamb", algorithm="lamb"),
    "timm-lamb": Convention(eps="hat", weight_decay="in-ratio", name="timm-lamb",
                            algorithm="lamb", adapt="with-decay"),
    "torch-optimizer-lamb": Convention(eps="hat", weight_decay="in-ratio",
                                       name="torch-optimizer-lamb", algorithm="lamb",
                                       bias_correction=False, phi_max=10.0),
    "keras-lamb": Convention(eps="hat", weight_decay="decoupled", name="keras-lamb",
                             algorithm="lamb"),
    "ranger": Convention(5.0, ">", "sgd", "raw", "decoupled", True, "ranger", lookahead_k=6,
                         lookahead_alpha=0.5),
}



def parse_convention(spec: str) -> Convention:
    """Parse ``NAME[,axis=value...]``, e.g. ``pytorch,weight_decay=decoupled``.

    ``NAME`` is a preset (RAdam's ``paper``, ``pytorch``, ``official``, ``official-sgd``,
    ``optax``; Adam's ``adam``, ``adamw``, ``keras-adam``, ``optax-adam``); each
    ``axis=value`` overrides one axis the preset's algorithm reads. Raises
    :class:`ConventionError` naming the problem and the accepted values.
    """
    parts = [part.strip() for part in spec.split(",")]
    name, overrides = parts[0], parts[1:]
    if name not in PRESETS:
        raise ConventionError(
            f"unknown convention {name!r}; start with a preset: {', '.join(PRESETS)}"
        )
    convention = PRESETS[name]
    changes: dict[str, object] = {}
    for override in overrides:
        axis, sep, value = override.partition("=")
        axis, value = axis.strip(), value.strip()
        if not sep or not axis or not value:
            raise ConventionError(f"expected axis=value after the preset, got {override!r}")
        if axis not in AXES:
            raise ConventionError(f"unknown axis {axis!r}; axes are: {', '.join(AXES)}")
        if axis not in ALGORITHM_AXES[convention.algorithm]:
            raise ConventionError(_foreign_axis(axis, convention.algorithm))
        if axis in NUMBER_AXES:
            try:
                changes[axis] = float(value)
            except ValueError:
                raise ConventionError(f"{axis} must be a number, got {value!r}") from None
        elif axis == "lookahead_k":
            try:
                changes[axis] = int(value)
            except ValueError:
                raise ConventionError(f"lookahead_k must be a whole number of steps, got "
                                      f"{value!r}") from None
        elif value not in _CHOICES[axis]:
            raise ConventionError(_bad_value(axis, value))

        elif axis == "decay_on_skip":
            changes[axis] = value == "true"
        elif axis == "bias_correction":
            changes[axis] = {"true": True, "false": False}.get(value, value)
        else:
            changes[axis] = value
    return replace(convention, **changes)  # type: ignore[arg-type]
