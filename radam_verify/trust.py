"""LAMB's trust ratio: the exact values of one tensor's step and the bound on its error.

LAMB (You et al. 2020) is the only member of the family whose step is not elementwise: per
tensor it scales w = u + wd theta (Adam's direction u, the decay where the reading puts it
in the ratio) by R = min(phi(||theta||) / ||w||, trust_max), with phi(x) = min(x, phi_max)
and R = 1 where either norm is zero. The bound follows ``derivations/error-model.md``,
section 2, "LAMB": a norm computed from inputs within e_i of exact is within
||e||_2 + (the error of forming the sum of n squares and its root) of the exact norm, the
quotient's error follows from both norms', and the step lr R w combines them elementwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radam_verify.conventions import Convention
from radam_verify.floats import Array, Format
from radam_verify.hyper import Hyper


@dataclass(frozen=True)
class TrustTerms:
    """The exact values LAMB's step of one tensor combines beyond Adam's direction u
    (float64 arrays and numbers along the exact values)."""

    w: Array  # u + wd theta (``in-ratio``), or u
    w_abs: Array
    theta_in_abs: Array  # |theta| as its norm is read (after a decoupled decay)
    norm_theta: float
    phi: float  # min(||theta_in||, phi_max)
    norm_w: float
    ratio: float  # R: clamped to trust_max; 1 where a norm is zero or R is not applied
    trusts: bool  # whether the reading applies R to this tensor
    step: Array  # lr R w


def trust_terms(u: Array, theta: Array, theta_in: Array, hyper: Hyper,
                convention: Convention) -> TrustTerms:
    """LAMB's exact terms of one tensor: ``u`` Adam's direction, ``theta`` the parameters
    before the step, ``theta_in`` after a decoupled decay (theta itself otherwise)."""
    with np.errstate(all="ignore"):
        w = u
        if convention.weight_decay == "in-ratio" and hyper.weight_decay != 0.0:
            w = u + hyper.weight_decay * theta
        norm_theta = _norm(theta_in)
        norm_w = _norm(w)
        phi = min(norm_theta, convention.phi_max)
        trusts = convention.trusts(hyper.weight_decay)
        ratio = 1.0
        if trusts and phi != 0 and norm_w != 0:
            ratio = min(phi / norm_w, convention.trust_max)
        return TrustTerms(w, np.abs(w), np.abs(theta_in), norm_theta, phi, norm_w, ratio,
                          trusts, hyper.lr * ratio * w)


def _norm(x: Array) -> float:
    """||x||_2 in binary64, scaled so that no square overflows or underflows."""
    largest = float(np.max(np.abs(x), initial=0.0))
    if largest == 0 or not math.isfinite(largest):
        return largest
    return largest * float(np.sqrt(np.sum(np.square(x / largest))))


def direction_error(terms: TrustTerms, u_abs: Array, e_u: Array, theta_abs: Array,
                    a_theta: Array | float, hyper: Hyper, convention: Convention,
                    fmt: Format) -> Array:
    """The bound on w's error from u's (``e_u``): wd rounded to the format, its product with
    theta (within ``a_theta``) and the sum are three roundings."""
    wd = hyper.weight_decay
    if convention.weight_decay != "in-ratio" or wd == 0.0:
        return e_u
    eta = _eta(fmt)
    theta_hi = theta_abs + a_theta
    return e_u + wd * a_theta + fmt.gamma(3) * (u_abs + e_u + wd * theta_hi) + 2 * eta


def norm_error(x_abs: Array, e_x: Array, norm: float, fmt: Format) -> float:
    """How far a norm computed in ``fmt`` from inputs within ``e_x`` of ``x`` may be from
    the exact ||x|| (``norm``): ||e||_2 for the inputs, gamma_n of the sum of n squares plus
    n eta where squares underflow, the root's rounding (error-model.md, section 2, "LAMB").
    Zero where x and its errors are all zero (the sum of exact zeros is exactly zero); inf
    where the sum of squares may overflow the format (a textbook evaluation cannot hold
    it) or n u is too large for the bound."""
    n = max(int(x_abs.size), 1)
    with np.errstate(all="ignore"):
        e_vec = _norm(np.asarray(e_x, dtype=np.float64) + np.zeros_like(x_abs))
    if norm == 0 and e_vec == 0:
        return 0.0
    if not math.isfinite(e_vec) or n * fmt.u >= 0.25:
        return math.inf
    eta = _eta(fmt)
    big = norm + e_vec
    gamma = fmt.gamma(n)
    if not big * big * (1 + gamma) <= fmt.largest:
        return math.inf
    d_sum = gamma * big * big + n * eta
    moved = min(d_sum / norm, math.sqrt(d_sum)) if norm > 0 else math.sqrt(d_sum)
    return e_vec + moved + fmt.u * (big + moved) + eta


def step_error(terms: TrustTerms, e_w: Array, e_theta_in: Array, fmt: Format,
               scalar_rel: float, hyper: Hyper, convention: Convention) -> Array:
    """The bound on |lr R~ w~ - lr R w| per element, from w's bound ``e_w`` and theta_in's
    ``e_theta_in`` (error-model.md, section 2, "LAMB"); ``scalar_rel``: lr's rounding."""
    eta = _eta(fmt)
    lr, w_abs = hyper.lr, terms.w_abs
    w_hi = w_abs + e_w
    # lr rounded to the format, lr R and (lr R) w: three roundings; where lr or lr R is
    # subnormal in the format, their roundings are absolute, eta each, times |w~|
    grow = fmt.gamma(3) + scalar_rel
    with np.errstate(all="ignore"):
        if not terms.trusts:
            return lr * (e_w + grow * w_hi) + 2 * eta * w_hi + 2 * eta
        e_phi = norm_error(terms.theta_in_abs, e_theta_in, terms.norm_theta, fmt)
        e_nw = norm_error(w_abs, e_w, terms.norm_w, fmt)
        if not (math.isfinite(e_phi) and math.isfinite(e_nw)):
            # an element out of the format's domain, or a sum of squares beyond its range:
            # the norm, and with it every element's step, cannot be bounded
            return np.full_like(w_abs, math.inf)
        phi, nw, ratio, limit = terms.phi, terms.norm_w, terms.ratio, convention.trust_max
        if (phi == 0 and e_phi == 0) or (nw == 0 and e_nw == 0):
            # a norm of exact zeros is computed as zero: R = 1 exactly, as in exact arithmetic
            return lr * (e_w + grow * w_hi) + 2 * eta * w_hi + 2 * eta
        if phi > e_phi and nw > e_nw:
            # phi~ / N~ - phi / N with |phi~ - phi| <= e_phi, |N~ - N| <= e_nw; the quotient's
            # rounding; min(., trust_max) is 1-Lipschitz and exact
            ratio_hi = min((phi + e_phi) / (nw - e_nw), limit)
            e_ratio = (e_phi + (phi / nw) * e_nw) / (nw - e_nw) + fmt.u * ratio_hi + eta
            return (lr * (ratio * e_w + w_hi * e_ratio + grow * ratio_hi * w_hi)
                    + eta * (1 + ratio_hi) * w_hi + 2 * eta)
        if phi > 0 and nw > 0:
            # a nonzero norm within its error of zero (its squares underflow, or its inputs'
            # errors reach it): whether the implementation's norm is zero, and R the rule's 1,
            # is decided by rounding, and the step may be anything from lr R w to lr w
            return np.full_like(w_abs, math.inf)
        # an exact zero norm whose inputs carry errors: the implementation's R may be the
        # rule's 1 or its quotient; |w~_i| / N~ <= 1 + gamma_(n+2) unless squares underflow
        n = max(int(w_abs.size), 1)
        if (nw + e_nw) ** 2 < n * fmt.smallest_normal or (n + 2) * fmt.u >= 0.25:
            return np.full_like(w_abs, math.inf)
        cap = (phi + e_phi) * (1 + fmt.gamma(n + 2))
        largest = np.maximum(w_hi, np.minimum(cap, limit * w_hi))
        return lr * (ratio * w_abs + largest) * (1 + grow) + eta * (1 + cap) * w_hi + 2 * eta


def _eta(fmt: Format) -> float:
    """The format's absolute error of an underflowing result, as one number (the fast
    judge's double-double centre gives it per element)."""
    return float(np.max(fmt.eta))
