"""The vectorised update of RAdam's family over numpy arrays, in any float dtype.

Used twice: by the fast reference (float64, exact coefficients) and by the project's
own float32 reimplementation (textbook coefficients); :func:`apply_step_dd` is the same
step in double-double, the fast reference of binary64 implementations. Scalars are rounded to the
array's dtype once, as a framework does with a Python scalar.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radam_verify import dd
from radam_verify.coefficients import Coefficients, ExactScalars
from radam_verify.conventions import Convention
from radam_verify.hyper import Hyper

FloatArray = npt.NDArray[np.floating]


def apply_step(
    theta: FloatArray,
    m: FloatArray,
    v: FloatArray,
    grad: FloatArray,
    c: Coefficients,
    hyper: Hyper,
    convention: Convention,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """New (theta, m, v) after one step with coefficients ``c``; the inputs are not changed
    (AMSGrad from a zero maximum: :func:`apply_step_max` carries it)."""
    theta, m, v, _ = apply_step_max(theta, m, v, None, grad, c, hyper, convention)
    return theta, m, v


def apply_step_max(
    theta: FloatArray,
    m: FloatArray,
    v: FloatArray,
    v_max: FloatArray | None,
    grad: FloatArray,
    c: Coefficients,
    hyper: Hyper,
    convention: Convention,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None]:
    """New (theta, m, v, v_max) after one step with coefficients ``c``: v_max is AMSGrad's
    running maximum (of v, or of v_hat = v / (1 - beta2^t); None: zeros, or no AMSGrad, when
    None is returned too)."""
    dtype = theta.dtype.type
    with np.errstate(all="ignore"):
        g = -grad if hyper.maximize else grad.copy()
        if convention.weight_decay == "l2" and hyper.weight_decay != 0.0:
            g = g + dtype(hyper.weight_decay) * theta
        m = dtype(hyper.beta1) * m + dtype(1.0 - hyper.beta1) * g
        v = dtype(hyper.beta2) * v + dtype(1.0 - hyper.beta2) * (g * g)
        theta_before = theta
        theta = theta if c.decay is None else dtype(c.decay) * theta
        read: FloatArray = v
        new_max: FloatArray | None = None
        if convention.amsgrad != "none":
            held = np.zeros_like(v) if v_max is None else v_max
            mine = v if convention.amsgrad == "v" else v * dtype(c.inv_bc2)
            read = new_max = np.maximum(held, mine).astype(dtype)
        if c.rectified:
            hat = convention.eps == "hat" and convention.amsgrad != "v_hat"
            q = read * dtype(c.inv_bc2) if hat else read
            if convention.eps_root:  # inside the root: sqrt(q + eps_root)
                q = q + dtype(convention.root_offset)
            u = dtype(c.coeff) * m / (np.sqrt(q) + dtype(hyper.eps))
            theta = lamb_step(theta, theta_before, u, hyper, convention) if convention.is_lamb \
                else theta - u
        elif c.updates:
            theta = theta - dtype(c.coeff) * m
    return theta.astype(dtype), m.astype(dtype), v.astype(dtype), new_max


def lamb_step(theta_in: FloatArray, theta: FloatArray, u: FloatArray, hyper: Hyper,
              convention: Convention) -> FloatArray:
    """LAMB's step of one tensor in the arrays' dtype: theta_in - lr R w, w = u + wd theta
    (``weight_decay=in-ratio``) or u, R = min(phi(||theta_in||) / ||w||, trust_max) with
    phi(x) = min(x, phi_max), and R = 1 where a norm is zero (``reference._lamb_step``)."""
    dtype = theta_in.dtype.type
    w = u
    if convention.weight_decay == "in-ratio" and hyper.weight_decay != 0.0:
        w = u + dtype(hyper.weight_decay) * theta
    ratio = dtype(1.0)
    if convention.trusts(hyper.weight_decay):
        phi = min(np.sqrt(np.sum(theta_in * theta_in, dtype=dtype)), dtype(convention.phi_max))
        norm_w = np.sqrt(np.sum(w * w, dtype=dtype))
        if phi != 0 and norm_w != 0:
            ratio = min(dtype(phi / norm_w), dtype(convention.trust_max))
    return theta_in - dtype(dtype(hyper.lr) * ratio) * w


def lamb_step_dd(theta_in: dd.DD, theta: dd.DD, u: dd.DD, hyper: Hyper,
                 convention: Convention) -> dd.DD:
    """:func:`lamb_step` in double-double: each sum of squares formed by pairwise
    double-double additions, each operation within ``dd.U_DD``."""
    w = u
    if convention.weight_decay == "in-ratio" and hyper.weight_decay != 0.0:
        w = dd.add(u, dd.mul_fp(theta, hyper.weight_decay))
    ratio = dd.DD(np.asarray(1.0), np.asarray(0.0))
    if convention.trusts(hyper.weight_decay):
        phi = dd.norm(theta_in)
        if float(phi.hi) > convention.phi_max:
            phi = dd.DD(np.asarray(convention.phi_max), np.asarray(0.0))
        norm_w = dd.norm(w)
        if float(phi.hi) != 0 and float(norm_w.hi) != 0:
            ratio = dd.div(phi, norm_w)
            if float(ratio.hi) > convention.trust_max:
                ratio = dd.DD(np.asarray(convention.trust_max), np.asarray(0.0))
    step = dd.mul_fp(ratio, hyper.lr)
    return dd.add(theta_in, -dd.mul(dd.DD(np.broadcast_to(step.hi, w.hi.shape),
                                          np.broadcast_to(step.lo, w.hi.shape)), w))


def apply_step_dd(theta: dd.DD, m: dd.DD, v: dd.DD, grad: FloatArray, s: ExactScalars, hyper: Hyper,
                  convention: Convention, v_max: dd.DD | None = None,
                  ) -> tuple[dd.DD, dd.DD, dd.DD]:
    """:func:`apply_step` in double-double arithmetic (:mod:`radam_verify.dd`), with the
    step's exact scalars rounded once to double-double: the same operations in the same
    order, each with a relative error at most ``dd.U_DD``, so the error model bounds this
    step with ``fmt = dd.DOUBLE_DOUBLE`` (derivations/error-model.md, section 6). beta1,
    beta2 and 1 - beta1, 1 - beta2 are exact (a binary64 beta's complement is a
    double-double, by TwoSum). AMSGrad's running maximum: :func:`apply_step_dd_max`."""
    theta, m, v, _ = apply_step_dd_max(theta, m, v, v_max, grad, s, hyper, convention)
    return theta, m, v


def apply_step_dd_max(theta: dd.DD, m: dd.DD, v: dd.DD, v_max: dd.DD | None, grad: FloatArray,
                      s: ExactScalars, hyper: Hyper, convention: Convention,
                      ) -> tuple[dd.DD, dd.DD, dd.DD, dd.DD | None]:
    """:func:`apply_step_dd` with AMSGrad's running maximum (None: zeros, or no AMSGrad);
    the maximum is exact, so it adds no error of its own."""
    with np.errstate(all="ignore"):
        c1 = dd.DD(*dd.two_sum(np.asarray(1.0), np.asarray(-hyper.beta1)))
        c2 = dd.DD(*dd.two_sum(np.asarray(1.0), np.asarray(-hyper.beta2)))
        hi = np.asarray(-grad if hyper.maximize else grad, dtype=np.float64)
        if convention.weight_decay == "l2" and hyper.weight_decay != 0.0:
            g = dd.add(dd.DD.of(hi), dd.mul_fp(theta, hyper.weight_decay))
            split = dd.split(g.hi)  # the gradient's halves, split once for its three products
            g_c1, g_g = dd.mul(g, c1, split), dd.mul(g, g, split, split)
        else:  # a binary64 gradient: the products of its low part, zeros, are left out
            split = dd.split(hi)
            g_c1, g_g = dd.mul_exact_lo(hi, c1, split), dd.square_exact_lo(hi, split)
        m = dd.add(dd.mul_fp(m, hyper.beta1), g_c1)
        v = dd.add(dd.mul_fp(v, hyper.beta2), dd.mul(g_g, c2))
        theta_before = theta
        if s.decay is not None:
            theta = dd.mul(theta, dd.from_exact(s.decay))
        read, new_max = v, None
        if convention.amsgrad != "none":
            held = v_max if v_max is not None else dd.DD.of(np.zeros_like(v.hi))
            mine = v if convention.amsgrad == "v" else dd.mul(v, dd.from_exact(s.inv_bc2))
            read = new_max = dd.maximum(held, mine)
        if s.rectified:
            hat = convention.eps == "hat" and convention.amsgrad != "v_hat"
            q = dd.mul(read, dd.from_exact(s.inv_bc2)) if hat else read
            if convention.eps_root:  # inside the root: sqrt(q + eps_root)
                q = dd.add_fp(q, convention.root_offset)
            den = dd.add_fp(dd.sqrt(q), hyper.eps)
            u = dd.div(dd.mul(dd.from_exact(s.coeff), m), den)
            theta = (lamb_step_dd(theta, theta_before, u, hyper, convention)
                     if convention.is_lamb else dd.add(theta, -u))
        elif s.updates:
            theta = dd.add(theta, -dd.mul(dd.from_exact(s.coeff), m))
    return theta, m, v, new_max


def lookahead_sync(theta: FloatArray, slow: FloatArray, t: int,
                   convention: Convention) -> tuple[FloatArray, FloatArray]:
    """Lookahead after step ``t`` (the tensor's count) in theta's dtype: on a sync step the
    slow weights ``slow`` (theta before the tensor's first step, until then) move by alpha
    towards theta, and theta becomes them; where the reading starts them after step ``t``,
    they become theta. Returns (theta, slow)."""
    if convention.sets_slow(t):
        return theta, theta.copy()
    if not convention.syncs(t):
        return theta, slow
    dtype = theta.dtype.type
    with np.errstate(all="ignore"):
        moved = (slow + dtype(convention.lookahead_alpha) * (theta - slow)).astype(dtype)
    return moved.copy(), moved


def lookahead_sync_dd(theta: dd.DD, slow: dd.DD, t: int, convention: Convention
                      ) -> tuple[dd.DD, dd.DD]:
    """:func:`lookahead_sync` in double-double (three operations, each within ``dd.U_DD``;
    alpha is a binary64 number)."""
    if convention.sets_slow(t):
        return theta, dd.DD(theta.hi.copy(), theta.lo.copy())
    if not convention.syncs(t):
        return theta, slow
    with np.errstate(all="ignore"):
        moved = dd.add(slow, dd.mul_fp(dd.add(theta, -slow), convention.lookahead_alpha))
    return moved, moved
