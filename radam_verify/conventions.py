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
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

from radam_verify.errors import ConventionError

Comparison = Literal[">", ">="]
Below = Literal["sgd", "skip"]
EpsPlacement = Literal["hat", "raw"]
WeightDecay = Literal["l2", "decoupled", "decoupled-unscaled", "none"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "comparison": (">", ">="),
    "below": ("sgd", "skip"),
    "eps": ("hat", "raw"),
    "weight_decay": ("l2", "decoupled", "decoupled-unscaled", "none"),
    "decay_on_skip": ("true", "false"),
}


@dataclass(frozen=True)
class Convention:
    """One reading of RAdam: the five axes (plus whether decay runs on skipped steps).

    ``threshold``: the number rho_t is compared with (at least 4, where r_t is real).
    ``comparison``: rectify when ``rho_t > threshold`` or ``rho_t >= threshold``.
    ``below``: ``sgd`` takes ``theta -= lr * m_hat``; ``skip`` leaves theta alone.
    ``eps``: ``hat`` is ``m_hat / (sqrt(v_hat) + eps)``; ``raw`` is
    ``sqrt(1 - beta2^t) m_hat / (sqrt(v_t) + eps)``.
    ``weight_decay``: ``l2`` adds ``wd * theta`` to the gradient before the moments;
    ``decoupled`` multiplies theta by ``1 - lr * wd`` before the update;
    ``decoupled-unscaled`` by ``1 - wd``; ``none`` ignores weight decay.
    ``decay_on_skip``: whether decoupled decay is applied on steps that make no update.
    """

    threshold: float = 5.0
    comparison: Comparison = ">"
    below: Below = "sgd"
    eps: EpsPlacement = "raw"
    weight_decay: WeightDecay = "l2"
    decay_on_skip: bool = True
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.threshold >= 4:
            raise ConventionError(
                f"threshold={self.threshold!r} is below 4, where r_t is not real; use a value >= 4"
            )
        for axis in ("comparison", "below", "eps", "weight_decay"):
            value = getattr(self, axis)
            if value not in _CHOICES[axis]:
                raise ConventionError(_bad_value(axis, str(value)))

    def rectifies(self, rho_minus_threshold_sign: int) -> bool:
        """The branch for the sign (-1, 0, +1) of ``rho_t - threshold``."""
        if rho_minus_threshold_sign == 0:
            return self.comparison == ">="
        return rho_minus_threshold_sign > 0

    @property
    def spec(self) -> str:
        """The canonical ``NAME[,axis=value]`` string of this convention."""
        base_name = self.name if self.name in PRESETS else "paper"
        base = PRESETS[base_name]
        parts = [base_name]
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name != "name" and value != getattr(base, field.name):
                parts.append(f"{field.name}={_format(value)}")
        return ",".join(parts)

    def axes(self) -> dict[str, object]:
        """The axis values as plain JSON-ready data."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bad_value(axis: str, value: str) -> str:
    return f"unknown value {value!r} for axis {axis!r}; choose one of: {', '.join(_CHOICES[axis])}"


PRESETS: dict[str, Convention] = {
    "paper": Convention(4.0, ">", "sgd", "raw", "l2", True, "paper"),
    "pytorch": Convention(5.0, ">", "sgd", "raw", "l2", True, "pytorch"),
    "official": Convention(5.0, ">=", "skip", "raw", "decoupled", False, "official"),
    "official-sgd": Convention(5.0, ">=", "sgd", "raw", "decoupled", True, "official-sgd"),
    "optax": Convention(5.0, ">=", "sgd", "hat", "none", True, "optax"),
}

AXES = ("threshold", "comparison", "below", "eps", "weight_decay", "decay_on_skip")


def parse_convention(spec: str) -> Convention:
    """Parse ``NAME[,axis=value...]``, e.g. ``pytorch,weight_decay=decoupled``.

    ``NAME`` is a preset (``paper``, ``pytorch``, ``official``, ``official-sgd``, ``optax``);
    each ``axis=value`` overrides one axis. Raises :class:`ConventionError` naming the
    problem and the accepted values.
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
        if axis == "threshold":
            try:
                changes[axis] = float(value)
            except ValueError:
                raise ConventionError(f"threshold must be a number >= 4, got {value!r}") from None
        elif value not in _CHOICES[axis]:
            raise ConventionError(_bad_value(axis, value))
        elif axis == "decay_on_skip":
            changes[axis] = value == "true"
        else:
            changes[axis] = value
    return replace(convention, **changes)  # type: ignore[arg-type]
