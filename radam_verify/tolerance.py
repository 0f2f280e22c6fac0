"""The error model: how far a correct implementation may be from exact arithmetic.

A running error analysis (Higham, *Accuracy and Stability of Numerical Algorithms*,
ch. 3) of one RAdam step, evaluated along the exact values. Its derivation is in
``derivations/error-model.md``; the symbols there match the names here:

* ``fmt.u`` (unit roundoff) and ``fmt.eta`` (absolute error of an underflowing result)
  of the implementation's format; ``fmt.gamma(k)`` for k chained roundings;
* ``ScheduleErrors``: how far a legitimate binary64 evaluation of the scalar schedule
  (textbook formula, ``pow``) may be from the exact one; it also gives the ambiguity band
  of the branch decision;
* input bounds ``a_theta, a_m, a_v`` carry the error of earlier steps (global error);
  zero for a step from the implementation's own state (local error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from radam_verify import trust
from radam_verify.coefficients import Coefficients
from radam_verify.conventions import Convention, LookaheadAction
from radam_verify.floats import FLOAT32, FLOAT64, Array, Format
from radam_verify.hyper import Hyper
from radam_verify.schedule import ScheduleStep
from radam_verify.trust import TrustTerms

U64 = FLOAT64.u
#: Roundings in the longest legitimate evaluation of each quantity (see error-model.md).
K_MOMENT, K_UPDATE, K_SGD, K_THETA = 4, 8, 4, 3
#: Lookahead's sync: alpha rounded to the format and three operations (error-model.md, 2)
K_LOOKAHEAD = 4
#: optax's merged sync of the fast weights, theta + (u - (1 - alpha) (theta + u - phi)):
#: 1 - alpha rounded and five operations (error-model.md, section 2)
K_MERGED = 6
#: Relative slack for evaluating the bound itself in binary64 along rounded exact values.
EVALUATION_SLACK = 1 + 2.0**-30
#: binary64 ulps within which ``--verify-schedule=accurate`` requires each scalar of the
#: schedule (``ScheduleErrors.accurate``)
ACCURATE_ULPS = 2


@dataclass(frozen=True)
class ScheduleErrors:
    """Bounds on the error of the scalar schedule as an implementation evaluates it."""

    rho_abs: float  # |rho_t computed - rho_t exact|
    r_abs: float  # absolute error of r_t (r_t may be exactly 0 at rho_t = 4)
    bc1_rel: float
    bc2_rel: float
    scalar_rel: float  # rounding of each scalar the element loop receives (lr, coefficient, ...)
    #: the unit roundoff the scalars are formed in: binary64's, or double-double's for the
    #: float64 fast reference (its r_t and decay factor are rounded there)
    schedule_u: float = U64
    #: r_t is exactly 1 (Adam): it is neither evaluated nor rounded
    r_exact: bool = False
    #: relative error of eps as the update receives it, beyond its rounding to the format:
    #: binary32's for a reading whose scalars are float32 (eps / step size in binary32)
    eps_rel: float = 0.0
    #: absolute error of the step's coefficient where it underflows in the scalars' format
    #: (binary32's eta for a reading whose scalars are float32; the format's own is ``eta``)
    coeff_eta: float = 0.0

    @classmethod
    def rounded_only(cls, fmt: Format = FLOAT64) -> ScheduleErrors:
        """Exact scalars rounded once to ``fmt`` (the fast references: binary64, or
        double-double for binary64 implementations)."""
        return cls(0.0, 0.0, 0.0, 0.0, fmt.u, min(fmt.u, U64))

    def r_error(self, r_t: float) -> float:
        """Absolute error of r_t: the schedule's, plus the final rounding (0 for Adam)."""
        if self.r_exact:
            return 0.0
        return self.r_abs + self.schedule_u * r_t

    @classmethod
    def binary64(cls, sched: ScheduleStep, hyper: Hyper, fmt: Format) -> ScheduleErrors:
        """A textbook evaluation (pow within 1 ulp), then rounding to ``fmt``: in binary64,
        or in binary32 where the reading's scalars are float32 (the same analysis with
        binary32's unit roundoff, error-model.md, section 2). Running powers are products
        of t rounded multiplications: within t u of exact, where a pow is within 2 u."""
        us = _scalars_u(sched)
        t = sched.t
        p1, p2 = float(1 - sched.bias_correction1), float(1 - sched.bias_correction2)
        pow_u = max(2, t) if sched.running_powers else 2  # the powers' error, in us
        bc1_rel = us * (1 + pow_u * p1 / max(1 - p1, 1e-300)) + us
        bc2_rel = us * (1 + pow_u * p2 / max(1 - p2, 1e-300)) + us
        rho, inf = float(sched.rho_t), float(sched.rho_inf)
        second = 2 * t * p2 / max(1 - p2, 1e-300)
        inf_abs = 4 * us * (abs(inf) + 1)
        # a running product's rho term is a recursion too: 2 (t + 1) u more (section 2)
        second_u = 5 + (2 * (t + 1) if sched.running_powers else 0)
        rho_abs = inf_abs + abs(second) * (second_u * us + bc2_rel) + us * abs(rho)
        return cls._of(sched, fmt, rho_abs, inf_abs, bc1_rel, bc2_rel)

    @classmethod
    def accurate(cls, sched: ScheduleStep, fmt: Format) -> ScheduleErrors:
        """An accurate evaluation: rho_t, rho_inf and the bias corrections each within
        :data:`ACCURATE_ULPS` ulps of exact in the scalars' format (binary64, or binary32
        where the reading's scalars are float32; error-model.md, section 2, "An accurate
        schedule"), then rounding to ``fmt``."""
        rel = 2 * ACCURATE_ULPS * _scalars_u(sched)  # one ulp is at most 2 u relative
        rho, inf = float(sched.rho_t), float(sched.rho_inf)
        return cls._of(sched, fmt, rel * abs(rho), rel * abs(inf), rel, rel)

    @classmethod
    def _of(cls, sched: ScheduleStep, fmt: Format, rho_abs: float, inf_abs: float,
            bc1_rel: float, bc2_rel: float) -> ScheduleErrors:
        us = _scalars_u(sched)
        # a correction the reading does not make is exactly 1, never evaluated
        bc1_rel = bc1_rel if sched.m_corrected else 0.0
        bc2_rel = bc2_rel if sched.v_corrected else 0.0
        eps_rel = us if sched.float32_scalars else 0.0
        coeff_eta = FLOAT32.eta if sched.float32_scalars else 0.0
        if not sched.rectifier:  # Adam: r_t = 1 exactly, no threshold
            return cls(0.0, 0.0, bc1_rel, bc2_rel, fmt.u + 8 * us, us, r_exact=True,
                       eps_rel=eps_rel, coeff_eta=coeff_eta)
        rho, inf = float(sched.rho_t), float(sched.rho_inf)
        return cls(rho_abs, _r_absolute_error(rho, inf, rho_abs, inf_abs, us), bc1_rel,
                   bc2_rel, fmt.u + 8 * us, us, eps_rel=eps_rel, coeff_eta=coeff_eta)

    @classmethod
    def allowed(cls, schedule: str, sched: ScheduleStep, hyper: Hyper, fmt: Format
                ) -> ScheduleErrors:
        """The schedule's errors a judgement allows: ``textbook`` (every legitimate binary64
        evaluation, the default) or ``accurate``."""
        if schedule == "accurate":
            return cls.accurate(sched, fmt)
        return cls.binary64(sched, hyper, fmt)

    def ambiguous(self, sched: ScheduleStep, threshold: float) -> bool:
        """The exact rho_t is within the schedule's evaluation error of the threshold
        (never for Adam, which has none)."""
        return sched.rectifier and bool(abs(float(sched.rho_t - threshold)) <= self.rho_abs)


def _r_squared(rho: float, inf: float) -> float:
    if rho <= 4:
        return 0.0
    return (rho - 4) * (rho - 2) * inf / ((inf - 4) * (inf - 2) * rho)


def _scalars_u(sched: ScheduleStep) -> float:
    """The unit roundoff the reading forms its scalars in: binary64's, or binary32's."""
    return FLOAT32.u if sched.float32_scalars else U64


def _r_absolute_error(rho: float, inf: float, rho_abs: float, inf_abs: float,
                      unit: float = U64) -> float:
    """How far r_t moves when rho_t and rho_inf move within their evaluation errors.

    r_t^2 increases in rho_t (claim ``rectifier``), so the extremes lie at the corners
    of the box; 10 binary64 roundings of the formula are added.
    """
    if inf - inf_abs <= 4:
        # rho_inf - 4 may evaluate to 0 or less: r_t's denominator is lost to rounding, so a
        # legitimate evaluation can give any value and the update cannot be judged
        return math.inf
    exact = math.sqrt(_r_squared(rho, inf))
    worst = 0.0
    for d_rho in (-rho_abs, rho_abs):
        for d_inf in (-inf_abs, inf_abs):
            shifted = math.sqrt(_r_squared(rho + d_rho, inf + d_inf))
            worst = max(worst, abs(shifted - exact))
    return worst * (1 + 1e-6) + 10 * unit * exact


@dataclass(frozen=True)
class StepBound:
    """Elementwise bounds on |implementation - exact| after one step (inf: not judgeable)."""

    theta: Array
    m: Array
    v: Array
    #: the operand scale of theta, m and v (and v_max): the largest magnitude among the
    #: quantity before the step, what the step adds to it, and the result (error-model.md,
    #: "The scale of the bound"); errors and bounds are reported in ulps of the format at
    #: this magnitude
    scale: tuple[Array, ...] | None = None
    #: AMSGrad's running maximum (None: the reading keeps none)
    v_max: Array | None = None
    #: Lookahead's slow weights (None: the reading has no Lookahead)
    slow: Array | None = None

    @property
    def judgeable(self) -> npt.NDArray[np.bool_]:
        """Elements whose bound is finite: the others are out of the format's domain."""
        finite = np.isfinite(self.theta) & np.isfinite(self.m) & np.isfinite(self.v)
        for extra in (self.v_max, self.slow):
            if extra is not None:
                finite &= np.isfinite(extra)
        return finite

    def quantities(self) -> tuple[Array, ...]:
        """The bounds of theta, m, v, then v_max and slow where the reading keeps them, in
        that order (``Convention.quantities``)."""
        return (self.theta, self.m, self.v, *(
            x for x in (self.v_max, self.slow) if x is not None))


def root_sum_error(e_q: Array, q_sum: Array, u: float, eps_rel: float, eps_root: float
                   ) -> Array:
    """The error of q + eps_root, the root's argument, from q's error ``e_q``, the sum
    ``q_sum`` and eps_root converted to the format (relative ``u + eps_rel``): one rounding
    of a sum of two non-negative numbers, which cannot underflow (error-model.md, section
    4, "A constant inside the root")."""
    return (1 + u) * e_q + u * q_sum + (u + eps_rel) * (1 + u) * eps_root


def _coeff_without_r(c: Coefficients, hyper: Hyper, convention: Convention) -> float:
    """lr sqrt(1-b2^t)/(1-b1^t) (raw) or lr/(1-b1^t) (hat), for a step where r_t = 0."""
    bc1 = 1 - hyper.beta1**c.t
    scale = math.sqrt(1 / c.inv_bc2) if convention.eps == "raw" else 1.0
    return hyper.lr * scale / bc1 * (1 + 4 * U64)


@dataclass(frozen=True)
class MomentRecursion:
    """The moment recursion of the layout being judged, in that layout's coordinates.

    Raw moments: m_t = b1 m_{t-1} + (1 - b1) g with the hyperparameters as given. Debiased
    moments (``layout.py``): the same recursion with beta_hat_t and 1 - beta_hat_t, which
    the implementation evaluates in binary64 with an absolute error up to ``coeff_abs``
    (error-model.md, section 8); ``to_raw`` = 1 - b^t maps the stored moment to the raw one.
    """

    beta1: float
    one_minus_beta1: float
    beta2: float
    one_minus_beta2: float
    coeff_abs1: float = 0.0
    coeff_abs2: float = 0.0
    to_raw1: float = 1.0
    to_raw2: float = 1.0

    @classmethod
    def raw(cls, hyper: Hyper) -> MomentRecursion:
        return cls(hyper.beta1, 1 - hyper.beta1, hyper.beta2, 1 - hyper.beta2)

    @classmethod
    def debiased(cls, hyper: Hyper, t: int) -> MomentRecursion:
        from radam_verify.layout import corrections, debiased_betas

        hat1, comp1 = debiased_betas(hyper.beta1, t)
        hat2, comp2 = debiased_betas(hyper.beta2, t)
        bc1, bc2 = corrections(hyper, t)
        return cls(float(hat1), float(comp1), float(hat2), float(comp2),
                   debiased_beta_error(hyper.beta1, t, float(hat1), float(comp1)),
                   debiased_beta_error(hyper.beta2, t, float(hat2), float(comp2)),
                   float(bc1), float(bc2))


def debiased_beta_error(beta: float, t: int, hat: float, comp: float) -> float:
    """Absolute error of beta_hat_t and of 1 - beta_hat_t as an implementation evaluates them
    in binary64: ``(b^t - b) / (b^t - 1)`` or ``b (1 - b^(t-1)) / (1 - b^t)`` with ``pow``
    within 1 ulp, the complement as ``1 - beta_hat`` or ``(1 - b) / (1 - b^t)``
    (error-model.md, section 8). Exact at t = 1 (beta_hat_1 = 0) and for b = 0."""
    if t <= 1 or beta == 0.0:
        return 0.0
    p, q = beta**t, beta ** (t - 1)
    numerator, denominator = beta * (1 - q), 1 - p  # |b^t - b| and |b^t - 1|
    if numerator <= 0 or denominator <= 0:
        return math.inf
    k = 4 + 2 * (q / (1 - q) + p / (1 - p))
    if k * U64 >= 0.5:
        return math.inf
    rel = k * U64 / (1 - k * U64) + 4 * FLOAT64.eta / min(numerator, denominator)
    return (rel * hat + (rel + U64) * comp) * (1 + 4 * U64)


def step_bound(
    theta: Array, m: Array, v: Array, grad: Array,
    c: Coefficients, hyper: Hyper, convention: Convention, fmt: Format,
    errors: ScheduleErrors,
    a_theta: Array | float = 0.0, a_m: Array | float = 0.0, a_v: Array | float = 0.0,
    moments: MomentRecursion | None = None, *, scale: bool = True,
    v_max: Array | None = None, a_vmax: Array | float = 0.0,
    slow: Array | None = None, a_slow: Array | float = 0.0,
) -> StepBound:
    """Bound the error of one step from (theta, m, v) (exact values, as float64 arrays).

    ``c`` holds the exact coefficients of the branch being judged. ``m``, ``v``, their input
    bounds and the returned bounds on them are in the coordinates of ``moments`` (the state
    layout; raw by default). ``scale``: whether to return the operand scale (without it,
    ``StepBound.scale`` is None). ``v_max``, ``a_vmax``: AMSGrad's running maximum and its
    input bound (None: zeros); ``slow``, ``a_slow``: Lookahead's slow weights and theirs
    (None: theta, before the first step).
    """
    terms = step_terms(theta, m, v, grad, c, hyper, convention, moments, v_max, slow)
    return terms.bound(fmt, errors, a_theta, a_m, a_v, scale=scale, a_vmax=a_vmax,
                       a_slow=a_slow)


@dataclass(frozen=True)
class StepTerms:
    """The exact values one step combines, elementwise (error-model.md, sections 4 and 5):
    what every format's bound of that step reads. :func:`step_bound` is
    ``step_terms(...).bound(...)``; the fast judge bounds one step for two formats from
    the same terms."""

    theta: Array
    m: Array
    v: Array
    c: Coefficients
    hyper: Hyper
    convention: Convention
    rec: MomentRecursion
    theta_abs: Array  # |theta|
    m_abs: Array  # |m|
    g: Array  # the gradient as the step uses it (sign, L2 term)
    g_abs: Array
    two_g_abs: Array  # 2 |g|
    g_squared: Array  # g g
    c1_g_abs: Array  # (1 - b1) |g|
    m_stored: Array
    m_stored_abs: Array
    v_stored: Array
    m_new: Array  # the moments the update reads (raw)
    m_new_abs: Array
    v_new: Array
    theta_in: Array  # decay theta
    q: Array | None  # what the root is taken of (rectified steps)
    root: Array | None
    root_positive: npt.NDArray[np.bool_] | None
    den: Array | None
    update: Array
    update_abs: Array
    theta_new: Array
    results_abs: Array  # |theta_new| + |update|
    #: AMSGrad's running maximum before and after the step (None: the reading keeps none)
    v_max: Array | None = None
    v_max_new: Array | None = None
    #: Lookahead's slow weights before and after the step (theta becomes the new ones on a
    #: sync step); None: the reading has no Lookahead
    slow: Array | None = None
    slow_new: Array | None = None
    #: LAMB's per-tensor terms (None: an elementwise algorithm); ``direction_abs`` is |u|,
    #: Adam's direction, which LAMB scales by its trust ratio (else the update itself)
    trust: TrustTerms | None = None
    direction_abs: Array | None = None
    #: what Lookahead does at the end of this step (``Convention.lookahead_action``)
    action: LookaheadAction = "none"

    def scales(self) -> tuple[Array, ...]:
        """The operand scale of theta, m and v (error-model.md, "The scale of the bound"),
        and of v_max (the new maximum, the largest value it combines)."""
        c2, g = self.rec.one_minus_beta2, self.g
        with np.errstate(all="ignore"):
            found: tuple[Array, ...] = (_like(np.fmax(np.fmax(self.theta_abs, self.update_abs),
                                   np.abs(self.theta_new)), self.theta),
                     _like(np.fmax(np.fmax(self.m_abs, self.c1_g_abs), self.m_stored_abs),
                           self.theta),
                     _like(np.fmax(np.fmax(np.abs(self.v), c2 * g * g), np.abs(self.v_stored)),
                           self.theta))
            if self.slow is not None and self.slow_new is not None:
                # a sync combines the slow weights with theta_new into the new theta
                size = np.fmax(np.abs(self.slow), np.abs(self.slow_new))
                if self.action != "none":
                    size = np.fmax(size, np.abs(self.theta_new))
                    found = (_like(np.fmax(found[0], size), self.theta), *found[1:])
            if self.v_max_new is not None:
                found = (*found, _like(np.abs(self.v_max_new), self.theta))
            if self.slow is not None:
                found = (*found, _like(size, self.theta))
            return found

    def bound(self, fmt: Format, errors: ScheduleErrors,
              a_theta: Array | float = 0.0, a_m: Array | float = 0.0,
              a_v: Array | float = 0.0, *, scale: bool = True,
              a_vmax: Array | float = 0.0, a_slow: Array | float = 0.0,
              a_g: Array | float = 0.0) -> StepBound:
        """The bound of this step for ``fmt`` with the schedule's ``errors`` and the input
        bounds ``a_theta, a_m, a_v`` (and ``a_vmax``, AMSGrad's running maximum's;
        ``a_slow``, Lookahead's slow weights'; ``a_g``, the gradient's where the
        implementation forms it from the given one: LAMB's global clipping,
        :mod:`radam_verify.clipping`)."""
        u, eta = fmt.u, fmt.eta
        gam = fmt.gamma
        c, hyper, convention, rec = self.c, self.hyper, self.convention, self.rec
        v, g_abs, m_new = self.v, self.g_abs, self.m_new
        with np.errstate(all="ignore"):
            b1, b2, wd = rec.beta1, rec.beta2, hyper.weight_decay
            c1, c2 = rec.one_minus_beta1, rec.one_minus_beta2
            theta_abs = self.theta_abs + a_theta
            e_g: Array | float = a_g
            if convention.weight_decay == "l2" and wd != 0.0:
                e_g = (a_g + gam(2) * (g_abs + a_g + 2 * wd * theta_abs) + wd * a_theta
                       + eta)  # g~ + wd theta~: wd rounded, its product and the sum
            m_abs_in = self.m_abs + a_m
            # (1 - b1)|m|: the lerp form m + w (g - m) with w = fl(1 - b1) implies b1 = 1 - w
            # with an absolute error of u w (error-model.md, section 3)
            e_m_stored = (b1 * a_m + c1 * e_g
                          + gam(K_MOMENT) * (m_abs_in + self.c1_g_abs + c1 * a_g
                                             + self.m_stored_abs)
                          + 3 * eta
                          # a beta below the format's normal range rounds with absolute error eta
                          + eta * (m_abs_in + g_abs))
            g_e = self.two_g_abs * e_g
            e_v_stored = (b2 * a_v + c2 * (g_e + np.square(e_g))
                          + gam(K_MOMENT) * ((v + a_v) + c2 * (self.g_squared + g_e)
                                             + self.v_stored) + 4 * eta
                          + eta * (v + a_v + self.g_squared))
            if rec.coeff_abs1 or rec.coeff_abs2:  # binary64 beta_hat_t and 1 - beta_hat_t (8)
                g2_abs = self.g_squared + g_e + np.square(e_g)
                e_m_stored = e_m_stored + rec.coeff_abs1 * (m_abs_in + g_abs + e_g)
                e_v_stored = e_v_stored + rec.coeff_abs2 * (v + a_v + g2_abs)
            e_m, e_v = e_m_stored, e_v_stored
            if rec.to_raw1 != 1.0 or rec.to_raw2 != 1.0:
                # the update reads the raw moments: the stored ones times 1 - b^t
                e_m = e_m_stored * rec.to_raw1 * (1 + 4 * U64)
                e_v = e_v_stored * rec.to_raw2 * (1 + 4 * U64)
            decay = 1.0 if c.decay is None else c.decay
            e_theta = abs(decay) * a_theta
            if c.decay is not None:
                e_theta = e_theta + (gam(2) + errors.schedule_u * (1 + 2 * hyper.lr * wd)
                                     / max(abs(decay), 1e-300)) * abs(decay) * theta_abs + eta
                if convention.weight_decay == "merged":  # lr (u + wd theta): 3 roundings
                    e_theta = e_theta + gam(3) * hyper.lr * wd * theta_abs
            coeff_rel = errors.scalar_rel + errors.bc1_rel
            e_max: Array | None = None
            if self.v_max_new is not None:
                # max(x~, y~) is within max(|x~ - x|, |y~ - y|) of max(x, y): the maximum adds
                # no rounding (error-model.md, section 2, "AMSGrad")
                e_mine = e_v
                if convention.amsgrad == "v_hat":  # v / (1 - b2^t): two roundings, bc2's error
                    e_mine = (e_v * c.inv_bc2 + (gam(2) + errors.bc2_rel) * self.v_new
                              * c.inv_bc2 + eta)
                e_max = np.fmax(a_vmax, e_mine)
                e_v = e_max  # the update reads the maximum
            if c.rectified:
                assert self.q is not None
                assert self.root is not None
                assert self.den is not None
                assert self.root_positive is not None
                q, root, den = self.q, self.root, self.den
                if convention.eps == "raw":
                    e_q = e_v
                    coeff_rel += errors.bc2_rel / 2
                elif convention.amsgrad == "v_hat":  # the root of the maximum of v_hat itself
                    e_q = e_v
                else:
                    e_q = e_v * c.inv_bc2 + (gam(2) + errors.bc2_rel) * q + eta
                if convention.eps_root:
                    e_q = root_sum_error(e_q, q, u, errors.eps_rel, convention.root_offset)
                e_root = (np.fmin(np.where(self.root_positive, e_q / root, np.inf), np.sqrt(e_q))
                          + u * root + eta)
                e_den = e_root + u * den + (u + errors.eps_rel) * hyper.eps + eta
                slack = den - e_den
                safe = np.where(slack > 0, slack, np.nan)
                # r_t's error is absolute (r_t is 0 at rho_t = 4): coeff without r_t times it
                base = c.coeff / c.r_t if c.r_t > 0 else _coeff_without_r(c, hyper, convention)
                # each product of two small quantities is formed after a quotient: in the
                # order m e_den / (den safe) they underflow to 0 for subnormal v with eps = 0
                direction_abs = (self.update_abs if self.direction_abs is None
                                 else self.direction_abs)
                e_update = (c.coeff * (e_m / safe + self.m_new_abs * (e_den / den) / safe)
                            + direction_abs * (gam(K_UPDATE) + coeff_rel)
                            + base * (1 + coeff_rel) * self.m_new_abs / safe
                            * errors.r_error(c.r_t)
                            + K_UPDATE * eta * (1 + c.coeff) * (1 + 1 / safe)
                            # the coefficient rounded to the format: subnormal there, its
                            # absolute error eta (error-model.md, section 1)
                            + (eta + errors.coeff_eta) * (self.m_new_abs / safe))
                e_update = np.where(slack > 0, e_update, np.inf)
                if self.trust is not None:  # LAMB: lr R w from u's error (section 2, LAMB)
                    assert self.direction_abs is not None
                    e_w = trust.direction_error(self.trust, self.direction_abs, e_update,
                                                self.theta_abs, a_theta, hyper, convention, fmt)
                    e_update = trust.step_error(self.trust, e_w, np.asarray(e_theta), fmt,
                                                errors.scalar_rel, hyper, convention)
            elif c.updates:
                e_update = (c.coeff * e_m + self.update_abs * (gam(K_SGD) + coeff_rel)
                            + K_SGD * eta * max(1.0, c.coeff)
                            # the coefficient rounded, as above
                            + (eta + errors.coeff_eta) * self.m_new_abs)
            else:
                e_update = np.zeros_like(m_new)
            e_theta = e_theta + e_update + gam(K_THETA) * self.results_abs + eta
            e_slow: Array | None = None
            if self.slow is not None and self.slow_new is not None:
                e_theta, e_slow = lookahead_error(
                    self.action, convention, fmt, e_theta, a_slow, self.slow, self.theta_new,
                    self.slow_new, self.theta_abs)
        return StepBound(
            np.asarray(e_theta * EVALUATION_SLACK, dtype=np.float64),
            np.asarray(e_m_stored * EVALUATION_SLACK, dtype=np.float64),
            np.asarray(e_v_stored * EVALUATION_SLACK, dtype=np.float64),
            self.scales() if scale else None,
            None if e_max is None else np.asarray(e_max * EVALUATION_SLACK, dtype=np.float64),
            None if e_slow is None else np.asarray(e_slow * EVALUATION_SLACK, dtype=np.float64),
        )


def step_terms(theta: Array, m: Array, v: Array, grad: Array, c: Coefficients, hyper: Hyper,
               convention: Convention, moments: MomentRecursion | None = None,
               v_max: Array | None = None, slow: Array | None = None,
               action: LookaheadAction | None = None) -> StepTerms:
    """The exact values of one step from (theta, m, v) that its bound reads (evaluated in
    binary64 along the exact values, as :func:`step_bound`); ``v_max``: AMSGrad's running
    maximum (None: zeros, where the reading keeps one); ``slow``: Lookahead's slow weights
    (None: theta, where the reading has Lookahead); ``action``: what Lookahead does after
    the step (None: as the tensor's count c.t says)."""
    rec = moments if moments is not None else MomentRecursion.raw(hyper)
    trust_of: TrustTerms | None = None
    direction_abs: Array | None = None
    with np.errstate(all="ignore"):
        b1, b2, wd = rec.beta1, rec.beta2, hyper.weight_decay
        c1, c2 = rec.one_minus_beta1, rec.one_minus_beta2
        theta_abs = np.abs(theta)
        g = -grad if hyper.maximize else grad
        if convention.weight_decay == "l2" and wd != 0.0:
            g = g + wd * theta
        g_abs = np.abs(g)
        m_stored = b1 * m + c1 * g
        v_stored = b2 * v + c2 * g * g
        m_new, v_new = m_stored, v_stored
        if rec.to_raw1 != 1.0 or rec.to_raw2 != 1.0:
            m_new, v_new = m_stored * rec.to_raw1, v_stored * rec.to_raw2
        decay = 1.0 if c.decay is None else c.decay
        theta_in = decay * theta
        m_new_abs = np.abs(m_new)
        q = root = den = root_positive = None
        read, v_max_new = v_new, None
        if convention.keeps_max:
            held = np.zeros_like(v_new) if v_max is None else v_max
            mine = v_new if convention.amsgrad == "v" else v_new * c.inv_bc2
            read = v_max_new = np.fmax(held, mine)
        if c.rectified:
            raw_root = convention.eps == "raw" or convention.amsgrad == "v_hat"
            q = read if raw_root else read * c.inv_bc2
            if convention.eps_root:  # inside the root: sqrt(q + eps_root)
                q = q + convention.root_offset
            root = np.sqrt(q)
            root_positive = root > 0
            den = root + hyper.eps
            update = c.coeff * m_new / den
            if convention.is_lamb:  # u, Adam's direction: the step is lr R w
                direction_abs = np.abs(update)
                trust_of = trust.trust_terms(update, theta, theta_in, hyper, convention)
                update = trust_of.step
        elif c.updates:
            update = c.coeff * m_new
        else:
            update = np.zeros_like(m_new)
        theta_new = theta_in - update
        update_abs = np.abs(update)
        phi = slow_new = None
        if action is None:
            action = convention.lookahead_action(c.t)
        if convention.lookahead:
            phi = theta if slow is None else slow
            slow_new = _slow_after(action, phi, theta_new, convention.lookahead_alpha)
        return StepTerms(theta, m, v, c, hyper, convention, rec, theta_abs, np.abs(m), g, g_abs,
                         2 * g_abs, g * g, c1 * g_abs, m_stored, np.abs(m_stored), v_stored,
                         m_new, m_new_abs, v_new, theta_in, q, root, root_positive, den,
                         update, update_abs, theta_new, np.abs(theta_new) + update_abs,
                         None if v_max_new is None else held, v_max_new, phi, slow_new,
                         trust_of, direction_abs, action)


def _slow_after(action: LookaheadAction, phi: Array, theta_new: Array, alpha: float) -> Array:
    """Lookahead's slow weights after ``action`` (in binary64, along the exact values)."""
    if action == "set":  # phi starts at theta after this step: a copy
        return theta_new
    if action == "sync":
        return phi + alpha * (theta_new - phi)
    return phi


def lookahead_error(action: LookaheadAction, convention: Convention, fmt: Format,
                    e_theta: Array | float, a_slow: Array | float, slow: Array,
                    theta_new: Array, slow_new: Array, theta_abs: Array
                    ) -> tuple[Array | float, Array]:
    """The bounds of (theta, phi) after Lookahead's ``action`` ends a step, from theta's
    bound before it (``e_theta``) and phi's (``a_slow``); ``theta_abs``: |theta| before the
    step (a merged sync reads it)."""
    eta, gam = fmt.eta, fmt.gamma
    e_slow = np.broadcast_to(np.asarray(a_slow, dtype=np.float64), slow.shape)
    if action == "set":
        # phi = theta, a copy; every wrapper then evaluates its sync of theta with that copy
        # (timm: slow + alpha (fast - slow); torch-optimizer: alpha fast + (1 - alpha) slow),
        # exact in real arithmetic and within a sync's roundings in the format
        e_set = e_theta + gam(K_LOOKAHEAD) * 3 * np.abs(theta_new) + 3 * eta
        return e_set, np.broadcast_to(np.asarray(e_set, dtype=np.float64), slow.shape)
    if action == "sync":
        # phi + alpha (theta - phi), or (1 - alpha) phi + alpha theta, or a lerp:
        # alpha rounded and three operations (error-model.md, section 2)
        alpha = convention.lookahead_alpha
        e_before = e_slow
        e_slow = ((1 - alpha) * e_slow + alpha * e_theta
                  + gam(K_LOOKAHEAD) * (np.abs(slow) + np.abs(theta_new) + np.abs(slow_new))
                  + 3 * eta)
        if convention.lookahead_sync == "merged":  # theta moved on its own
            return ((1 - alpha) * e_before + alpha * e_theta
                    + gam(K_MERGED) * (np.abs(slow) + np.abs(theta_new) + theta_abs
                                       + np.abs(slow_new))
                    + 5 * eta), e_slow
        return e_slow, e_slow  # theta = phi: a copy
    if convention.lookahead_sync == "merged":
        # phi + alpha 0 d between syncs: exact, but a subnormal phi may be flushed
        return e_theta, e_slow + eta
    return e_theta, e_slow


def gradless_sync_bound(theta: Array, m: Array, v: Array, slow: Array, v_max: Array | None,
                        action: LookaheadAction, convention: Convention, fmt: Format,
                        inputs: StepBound | None) -> StepBound:
    """The bound after a step that gave the tensor no gradient but ends with Lookahead's
    ``action`` (a reading that syncs every tensor of its group, ``lookahead_count=group-all``):
    m, v and v_max are kept as they are, theta and phi move as a sync moves them, from the
    bounds ``inputs`` the tensor held (None: exact)."""
    a = inputs if inputs is not None else StepBound(*(np.zeros_like(theta),) * 3)
    with np.errstate(all="ignore"):
        slow_new = _slow_after(action, slow, theta, convention.lookahead_alpha)
        e_theta, e_slow = lookahead_error(action, convention, fmt, a.theta,
                                          0.0 if a.slow is None else a.slow, slow, theta,
                                          slow_new, np.abs(theta))
        size = np.fmax(np.fmax(np.abs(slow), np.abs(slow_new)), np.abs(theta))
        scales = (_like(size, theta), _like(np.abs(m), theta), _like(np.abs(v), theta),
                  *(() if v_max is None else (_like(np.abs(v_max), theta),)), _like(size, theta))
    # m and v are not touched: their bounds are carried as they are
    return StepBound(np.asarray(np.broadcast_to(e_theta, theta.shape) * EVALUATION_SLACK,
                                dtype=np.float64),
                     np.asarray(np.broadcast_to(a.m, theta.shape), dtype=np.float64),
                     np.asarray(np.broadcast_to(a.v, theta.shape), dtype=np.float64), scales,
                     None if v_max is None else np.asarray(
                         np.broadcast_to(0.0 if a.v_max is None else a.v_max, theta.shape),
                         dtype=np.float64),
                     np.asarray(e_slow * EVALUATION_SLACK, dtype=np.float64))


def _like(values: object, shape_of: Array) -> Array:
    """``values`` as a float64 array of ``shape_of``'s shape (a new array: the scales are
    computed afresh, so one of the right shape is returned as it is)."""
    full = np.asarray(values, dtype=np.float64)
    if full.shape == np.shape(shape_of):
        return full
    return np.array(np.broadcast_to(full, np.shape(shape_of)))
