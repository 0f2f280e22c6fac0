"""Per-step coefficients of the RAdam update, from the exact schedule or from binary64.

The element update is the same everywhere:
``theta = decay * theta - coeff * m / (sqrt(v * inv_bc2 or v) + eps)`` when rectified,
``theta = decay * theta - coeff * m`` on an SGD step, no update on a skipped step. LAMB's
coefficient leaves lr out: u = coeff * m / (...) is its direction, and its step
``theta = decay * theta - lr * R * (u + wd * theta)`` scales it by the trust ratio R.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np

from radam_verify.conventions import Convention
from radam_verify.hyper import Hyper
from radam_verify.powers import Powers
from radam_verify.precision import real
from radam_verify.schedule import schedule_step


@dataclass(frozen=True)
class Coefficients:
    """The scalars of one step, in binary64."""

    t: int
    rectified: bool
    updates: bool
    coeff: float  # the whole coefficient, r_t included (LAMB: without lr, its direction's)
    r_t: float  # 1.0 on steps that are not rectified
    inv_bc2: float  # 1 / (1 - beta2^t): used by the ``hat`` eps placement
    decay: float | None  # multiplies theta before the update; None: no decoupled decay


def decay_factor(hyper: Hyper, convention: Convention, updates: bool) -> float | None:
    """The factor decoupled weight decay multiplies theta by on this step (binary64), or None."""
    if hyper.weight_decay == 0.0 or not (updates or convention.decay_on_skip):
        return None
    if convention.decays_with_lr:
        return 1.0 - hyper.lr * hyper.weight_decay
    if convention.weight_decay == "decoupled-unscaled":
        return 1.0 - hyper.weight_decay
    return None


def exact_coefficients(t: int, hyper: Hyper, convention: Convention,
                       rectified: bool | None = None, powers: Powers | None = None
                       ) -> Coefficients:
    """Coefficients from the certified exact schedule, each rounded once to binary64."""
    return exact_scalars(t, hyper, convention, rectified, powers).rounded()


@dataclass(frozen=True)
class ExactScalars:
    """The scalars of one step from the exact schedule, unrounded (mpmath numbers at the
    reference's precision): what the fast references round, to binary64 or double-double."""

    t: int
    rectified: bool
    updates: bool
    coeff: object
    r_t: object
    inv_bc2: object
    decay: object | None  # 1 - lr wd or 1 - wd, exactly; None: no decoupled decay
    decay64: float | None  # the decay factor as binary64 forms it (decay_factor)

    def rounded(self) -> Coefficients:
        """Each scalar rounded once to binary64, the decay factor as binary64 forms it."""
        return Coefficients(self.t, self.rectified, self.updates,
                            float(self.coeff), float(self.r_t),  # type: ignore[arg-type]
                            float(self.inv_bc2), self.decay64)  # type: ignore[arg-type]


def exact_scalars(t: int, hyper: Hyper, convention: Convention,
                  rectified: bool | None = None, powers: Powers | None = None
                  ) -> ExactScalars:
    """The scalars of step ``t`` from the certified exact schedule, on the branch it takes
    (or ``rectified``: inside the ambiguity band the judges try both); ``powers``: the
    running products where the reading forms its corrections from them
    (:mod:`radam_verify.powers`)."""
    s = schedule_step(t, hyper.beta1, hyper.beta2, convention, powers=powers)
    branch = s.rectified if rectified is None else rectified
    updates = branch or convention.below == "sgd"
    if branch:
        rho, inf = s.rho_t, s.rho_inf
        r = 1 if convention.is_adam else _rectifier(rho, inf)
        scale = s.bias_correction2**0.5 if convention.eps == "raw" else 1
        # LAMB's direction u leaves lr out: its step is lr R (u + wd theta)
        lr = 1 if convention.is_lamb else hyper.lr
        coeff, r_t = lr * r * scale / s.bias_correction1, r
    else:
        coeff, r_t = (hyper.lr / s.bias_correction1 if updates else 0.0), 1.0
    decay, decay64 = None, decay_factor(hyper, convention, updates)
    if decay64 is not None:
        wd = real.mpf(hyper.weight_decay)
        decay = 1 - (real.mpf(hyper.lr) * wd if convention.decays_with_lr else wd)
    return ExactScalars(t, branch, updates, coeff, r_t, 1 / s.bias_correction2, decay,
                        decay64)


def _rectifier(rho: mpmath.mpf, inf: mpmath.mpf) -> mpmath.mpf:
    """r_t from rho_t and rho_inf (mpmath numbers), 0 where rounding puts its square below 0."""
    square = (rho - 4) * (rho - 2) * inf / ((inf - 4) * (inf - 2) * rho)
    return max(square, 0) ** 0.5


def textbook_coefficients(t: int, hyper: Hyper, convention: Convention,
                          powers: tuple[float, float] | None = None) -> Coefficients:
    """Coefficients as implementations compute them: the textbook formulas in binary64 (in
    binary32 from binary32 betas and lr where the convention's scalars are float32, as a
    float32 step count tensor or float32 scalars give them); ``powers``: the running
    products (P1, P2) an implementation holds in place of b1^t and b2^t."""
    if convention.float32_scalars:
        return _textbook(t, hyper, convention, np.float32, np.sqrt, powers)
    return _textbook(t, hyper, convention, float, math.sqrt, powers)


def _textbook(t: int, hyper: Hyper, convention: Convention, f: Callable[[float], Any],
              sqrt: Callable[[Any], Any], powers: tuple[float, float] | None = None
              ) -> Coefficients:
    """The textbook formulas with every scalar of type ``f`` (float or numpy.float32)."""
    b1, b2, one, two, four = f(hyper.beta1), f(hyper.beta2), f(1), f(2), f(4)
    p1, p2 = (b1 ** f(t), b2 ** f(t)) if powers is None else (f(powers[0]), f(powers[1]))
    bc1 = one - p1
    bc2 = one - p2
    rho_inf = two / (one - b2) - one
    rho_t = rho_inf - two * f(t) * p2 / bc2 if p2 > 0 else rho_inf
    # a correction the reading does not make (LAMB's first version: neither)
    bc1 = bc1 if convention.corrects_m else one
    bc2 = bc2 if convention.corrects_v else one
    if convention.is_adam:
        rectified = True
    elif convention.comparison == ">":
        rectified = bool(rho_t > convention.threshold)
    else:
        rectified = bool(rho_t >= convention.threshold)
    updates = rectified or convention.below == "sgd"
    r = one
    if rectified and not convention.is_adam:
        r = sqrt((rho_t - four) * (rho_t - two) * rho_inf
                 / ((rho_inf - four) * (rho_inf - two) * rho_t))
    scale = sqrt(bc2) if rectified and convention.eps == "raw" else one
    lr = one if convention.is_lamb else f(hyper.lr)  # LAMB: the direction, without lr
    coeff = lr * r * scale / bc1 if updates else f(0)
    return Coefficients(t, rectified, updates, float(coeff), float(r), float(one / bc2),
                        decay_factor(hyper, convention, updates))
