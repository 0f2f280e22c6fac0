"""The fast judge's fused block for binary32 implementations, compiled with numba.

:func:`radam_verify.fast_judge._fused_block` evaluates a block of elements as numpy
passes: the fast step in binary64, the implementation's bound and the centre's own bound
(``_fused_bound``), and the comparison with the observed values, about 140 passes over the
block. Here the same operations, in the same order and in the same IEEE binary64
arithmetic (no fast-math: LLVM neither reassociates nor contracts a product and a sum into
an FMA), run in one loop over the elements, so each value stays in a register. The loop has
no branch LLVM cannot turn into a select, so it is vectorised (8 binary64 lanes where the
CPU has AVX-512): the largest ratio and errors in ulps are integer maxima of their bits,
and the first element with the largest ratio is found afterwards in the ratios the loop
wrote. The numbers are therefore the numpy path's, bit for bit
(``tests/test_fast_judge.py`` compares them over drawn blocks), except that sums the numpy
path leaves out because their term is below half an ulp of every element are formed here:
such a sum is its operand. The loop forms every sum, those of the terms in eta too, with
no branch: deciding per element which to skip cost the loop more than forming them (2.5
times its time, on a block of 2^12 float32 elements). A product of a tiny scalar (eta and
the terms formed from it), though, is left out where it provably cannot change its sum
(:func:`_plus_tiny`), replaced by a product with zero, a select: with binary64's eta these
products are subnormal, and on CPUs that take a microcode assist for a subnormal result
each costs about 50 normal ones, which made them most of the loop's time there.

The loop covers the blocks the numpy path evaluates fused in its common case: a binary64
centre (an implementation in binary32), the three quantities of Adam and RAdam (no
AMSGrad maximum, no Lookahead, no LAMB norms), every value finite, every bound positive and
below 2^1000 (so that the numpy path's sums of them are finite too). Anywhere else it
reports that it did not judge the block, and the numpy path evaluates it, deciding as
before. Without numba (an optional dependency, the ``fast`` extra) the numpy path judges
every block; verdicts are the same either way, only their time differs.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from radam_verify.floats import Array, Format

_HAS_NUMBA = importlib.util.find_spec("numba") is not None
#: the compiled :func:`_judge_block` (None until first used: numba, an optional dependency
#: that takes a third of a second to import, is imported then)
_COMPILED: list[Any] = []
#: the bits of a binary32 number as an int32, and back (numba intrinsics, set on compiling)
_bits: Any = None
_from_bits: Any = None
_bits64: Any = None
_from_bits64: Any = None
#: the bits of a binary64 number but its sign
_MAGNITUDE = np.int64(0x7FFFFFFFFFFFFFFF)
#: the element functions the loop inlines, in the order they are compiled
_INLINED = ("_fmax", "_fmin", "_plus_tiny", "_ulp32", "_bound", "_element", "_compare",
            "_fold", "_first")


def _bitcast(numba: Any, source: Any, target: Any, target_ir: Any) -> Any:
    """A numba intrinsic reinterpreting a ``source`` scalar's bits as ``target`` (an LLVM
    bitcast, which costs nothing)."""
    def typed(typing: Any, x: Any) -> Any:
        def generate(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], target_ir)
        return target(source), generate
    return numba.extending.intrinsic(typed)


def compiled() -> Any:
    """:func:`_judge_block` compiled by numba (on first use, cached on disk): IEEE division
    (inf and NaN, no exception), no fast-math, the GIL released; the element functions are
    inlined into it by numba (a call between compiled functions passes its scalars through
    memory, and LLVM does not inline it). Call it before running blocks in threads."""
    if not _COMPILED:
        import numba
        import numba.extending
        from llvmlite import ir

        module = globals()
        module["_bits"] = _bitcast(numba, numba.types.float32, numba.types.int32, ir.IntType(32))
        module["_from_bits"] = _bitcast(numba, numba.types.int32, numba.types.float32,
                                        ir.FloatType())
        module["_bits64"] = _bitcast(numba, numba.types.float64, numba.types.int64,
                                     ir.IntType(64))
        module["_from_bits64"] = _bitcast(numba, numba.types.int64, numba.types.float64,
                                          ir.DoubleType())
        for name in _INLINED:
            module[name] = numba.njit(cache=True, nogil=True, error_model="numpy",
                                      inline="always")(module[name])
        module["_worst"] = numba.njit(cache=True, nogil=True, error_model="numpy")(
            module["_worst"])
        _COMPILED.append(numba.njit(cache=True, nogil=True, error_model="numpy")(_judge_block))
    return _COMPILED[0]


#: bounds above this are left to the numpy path, whose block sums of them must stay finite
#: (2^15 elements of at most 2^1000 sum to at most 2^1015)
_BOUND_MAX = 2.0**1000
#: the largest block this loop judges (the sum argument above)
BLOCK_MAX = 1 << 15


class BoundScalars(NamedTuple):
    """The scalars of one error bound (the implementation's, or the centre's own), each
    formed in Python exactly as ``fast_judge._fused_bound`` forms it."""

    u: float
    gam2: float
    gam_moment: float
    gam_theta: float
    eta: float
    eta3: float  # 3 eta
    eta4: float  # 4 eta
    decay_term: float  # the factor of |theta_in| in the decay's error
    merged_term: float  # gamma_3 lr wd: the merged reading's extra rounding
    hat_term: float  # gamma_2 + bc2_rel: the error of v_hat's scaling
    root_term: float  # (u + eps_rel) eps
    root_sum_term: float  # (u + eps_rel) (1 + u) eps_root: eps_root's share of q + eps_root
    update_term: float  # gamma_K_UPDATE + coeff_rel (gamma_K_SGD + coeff_rel unrectified)
    base_term: float  # base (1 + coeff_rel)
    r_error: float
    slack_term: float  # K_UPDATE eta (1 + coeff)
    quotient_term: float  # eta + coeff_eta
    sgd_eta: float  # K_SGD eta max(1, coeff)
    coeff_eta: float
    #: per product of a tiny scalar (:func:`room`): eta, slack_term, quotient_term, coeff_eta
    eta_room: float
    slack_room: float
    quotient_room: float
    coeff_eta_room: float


class StepScalars(NamedTuple):
    """The step's own scalars and its reading's switches."""

    beta1: float
    beta2: float
    one_minus_beta1: float
    one_minus_beta2: float
    weight_decay: float
    two_weight_decay: float
    eps: float
    eps_root: float  # inside the root (0.0 unused where ``rooted`` is False)
    coeff: float
    inv_bc2: float
    decay: float  # the signed decay factor (1.0 unused where there is none)
    decay_abs: float
    maximize: bool
    l2: bool
    decays: bool
    merged: bool
    rectified: bool
    updates: bool
    raw: bool
    rooted: bool  # a constant inside the root: sqrt(q + eps_root)
    largest: float  # the implementation's format's largest finite value


def available() -> bool:
    """Whether the compiled loop can run (numba is installed)."""
    return _HAS_NUMBA


_POOL: list[ThreadPoolExecutor] = []


def pool() -> ThreadPoolExecutor:
    """Threads for the blocks of one step, one per core (the compiled loop releases the
    GIL)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(os.cpu_count() or 1, "radam-verify-block"))
    return _POOL[0]


#: the observed values of a quantity the implementation does not let the suite read (its
#: comparison is computed, and not used)
ZEROS = np.zeros(BLOCK_MAX)
ZEROS.flags.writeable = False
_SCRATCH = threading.local()


def scratch() -> tuple[Array, Array, Array]:
    """This thread's arrays for a block's ratios, one per quantity (allocated once: fresh
    memory costs a page fault per page on its first write)."""
    ratios: tuple[Array, Array, Array] | None = getattr(_SCRATCH, "ratios", None)
    if ratios is None:
        ratios = (np.empty(BLOCK_MAX), np.empty(BLOCK_MAX), np.empty(BLOCK_MAX))
        _SCRATCH.ratios = ratios
    return ratios


def judges(fmt: Format, quantities: int, wide: bool, lamb: bool) -> bool:
    """Whether the compiled loop judges blocks of this kind (else the numpy path does)."""
    return (available() and not wide and not lamb and quantities == 3
            and np.dtype(fmt.numpy_type) == np.float32 and fmt.eta > 0)


def _fmax(a: float, b: float) -> float:
    """numpy's fmax: the larger, ignoring a NaN."""
    return a if (a >= b) | (b != b) else b


def _fmin(a: float, b: float) -> float:
    """numpy's fmin: the smaller, ignoring a NaN."""
    return a if (a <= b) | (b != b) else b


def room(c: float) -> float:
    """The factor :func:`_plus_tiny` compares with for the scalar ``c``: 2^(-58-k), where
    2^k is the least power of two above |c| (0 where that is below binary64's range); 0,
    so that the product is always formed, unless |c| < 1 (c not infinite, not NaN)."""
    if not abs(c) < 1.0:
        return 0.0
    return math.ldexp(1.0, -58 - math.frexp(c)[1])


def _plus_tiny(acc: float, c: float, c_room: float, y: float) -> float:
    """acc + c y (``c_room`` = :func:`room` of c), without forming c y where the sum is
    acc anyway: there c y is replaced by 0 y, which is 0 (a select, so the loop stays
    vectorised). Forming c y costs a microcode assist on CPUs where a subnormal result is
    slow (about 50 times a normal product), and with binary64's eta most such products are
    subnormal. The product is left out only where |y| < fl(acc c_room), with |c| < 1 and
    acc >= 0 (else c_room is 0, or the comparison fails, and c y is formed as before):
    acc c_room is a power-of-two scaling of acc, exact, or rounded to a grid y also lies
    on where it is subnormal, or inf above every finite y; so |y| <= acc c_room and |c y| <
    acc 2^-58. If acc < 2^-1017, c y then rounds to 0; otherwise acc is normal, |fl(c y)| <
    acc 2^-57 is below a quarter of acc's ulp, and acc + fl(c y) rounds to acc."""
    return acc + (0.0 if abs(y) < acc * c_room else c) * y


def _ulp32(scale: float) -> float:
    """``fast_judge._ulp`` for binary32: scale rounded to binary32, its bits plus one (the
    next binary32 number up; NaN from inf), minus it in binary32, as binary64."""
    typed = np.float32(scale)
    return float(np.float32(_from_bits(_bits(typed) + np.int32(1)) - typed))


def _bound(p: BoundScalars, s: StepScalars, a0: float, a1: float, a2: float,
           theta_abs: float, g_abs: float, m_abs: float, v: float, m_new_abs: float,
           c1_g_abs: float, g_squared: float, v_stored: float, c2_g_squared: float,
           q: float, root: float, den: float, update_abs: float, results_abs: float
           ) -> tuple[float, float, float, bool]:
    """``fast_judge._fused_bound`` for one element with input bounds (a0, a1, a2) (zeros
    for the centre's own bound): (e_theta, e_m, e_v, whether the slack is positive)."""
    theta_abs_in = theta_abs + a0 if (s.l2 or s.decays) else theta_abs
    e_g = 0.0
    if s.l2:
        e_g = p.gam2 * (g_abs + s.two_weight_decay * theta_abs_in)
        e_g += s.weight_decay * a0
        e_g += p.eta
    m_abs_in = m_abs + a1
    inner = m_abs_in + c1_g_abs
    inner += m_new_abs
    inner *= p.gam_moment
    e_m = s.beta1 * a1
    if s.l2:
        e_m += s.one_minus_beta1 * e_g
    e_m += inner
    e_m += p.eta3
    e_m = _plus_tiny(e_m, p.eta, p.eta_room, m_abs_in + g_abs)
    v_in = v + a2
    if s.l2:
        g_e = 2 * g_abs * e_g
        x = g_e + e_g * e_g
        x *= s.one_minus_beta2
        inner = g_squared + g_e
        inner *= s.one_minus_beta2
        inner += v_in
        inner += v_stored
        inner *= p.gam_moment
        e_v = s.beta2 * a2
        e_v += x
        e_v += inner
    else:
        inner = v_in + c2_g_squared
        inner += v_stored
        inner *= p.gam_moment
        e_v = s.beta2 * a2
        e_v += inner
    e_v += p.eta4
    e_v = _plus_tiny(e_v, p.eta, p.eta_room, v_in + g_squared)
    positive = True
    e_theta = a0
    if s.decays:
        x = p.decay_term * theta_abs_in
        e_theta = s.decay_abs * a0 + x
        if s.merged:
            e_theta += p.merged_term * theta_abs_in
        e_theta += p.eta
    if s.rectified:
        if s.raw:
            e_q = e_v
        else:
            e_q = e_v * s.inv_bc2
            e_q += p.hat_term * q
            e_q += p.eta
        if s.rooted:  # tolerance.root_sum_error
            e_q = (1 + p.u) * e_q + p.u * q + p.root_sum_term
        e_root = _fmin(e_q / root, np.sqrt(e_q))
        e_root += p.u * root
        e_root += p.eta
        e_den = p.u * den
        e_den += e_root
        e_den += p.root_term
        e_den += p.eta
        slack = den - e_den
        positive = slack > 0
        x = e_den / den
        x *= m_new_abs
        x /= slack
        e_update = e_m / slack
        e_update += x
        e_update *= s.coeff
        e_update += update_abs * p.update_term
        x = p.base_term * m_new_abs
        x /= slack
        x *= p.r_error
        e_update += x
        x = 1 / slack
        x += 1
        e_update = _plus_tiny(e_update, p.slack_term, p.slack_room, x)
        e_update = _plus_tiny(e_update, p.quotient_term, p.quotient_room, m_new_abs / slack)
    elif s.updates:
        e_update = s.coeff * e_m
        e_update += update_abs * p.update_term
        e_update += p.sgd_eta
        e_update = _plus_tiny(e_update, p.eta, p.eta_room, m_new_abs)
        if p.coeff_eta != 0.0:
            e_update = _plus_tiny(e_update, p.coeff_eta, p.coeff_eta_room, m_new_abs)
    else:
        e_update = 0.0
    e_theta += e_update
    e_theta += p.gam_theta * results_abs
    e_theta += p.eta
    slack_factor = 1 + 2.0**-30  # tolerance.EVALUATION_SLACK
    return e_theta * slack_factor, e_m * slack_factor, e_v * slack_factor, positive


def _element(theta: float, m: float, v: float, grad: float, a_theta: float, a_m: float,
             a_v: float, s: StepScalars, impl: BoundScalars, own: BoundScalars
             ) -> tuple[float, float, float, float, float, float, float, float, float,
                        float, float, float, bool, bool]:
    """One element: the binary64 centre (theta, m, v), their magnitudes, the bounds (the
    implementation's plus the centre's own), the operand scales, whether the numpy path
    would evaluate it fused as well, whether its centre is within the format's range."""
    fine = True
    gr = -grad if s.maximize else grad
    if s.l2:
        gr += s.weight_decay * theta
    theta_abs = abs(theta)
    g_abs = abs(gr)
    m_abs = abs(m)
    m_new = s.beta1 * m
    m_new += s.one_minus_beta1 * gr
    m_new_abs = abs(m_new)
    c1_g_abs = s.one_minus_beta1 * g_abs
    g_squared = gr * gr
    c2_g_g = s.one_minus_beta2 * gr
    c2_g_g *= gr
    b2_v = s.beta2 * v
    v_stored = b2_v + c2_g_g
    c2_g_squared = s.one_minus_beta2 * g_squared
    theta_in = s.decay * theta if s.decays else theta
    q = root = den = coeff_m = update = 0.0
    if s.rectified:
        q = v_stored if s.raw else v_stored * s.inv_bc2
        if s.rooted:
            q = q + s.eps_root
        root = np.sqrt(q)
        den = root + s.eps
        coeff_m = s.coeff * m_new
        update = coeff_m / den
        fine &= root > 0
    elif s.updates:
        coeff_m = s.coeff * m_new
        update = coeff_m
    update_abs = abs(update)
    theta_new = theta_in - update
    theta_new_abs = abs(theta_new)
    results_abs = theta_new_abs + update_abs
    v_abs = abs(v)
    v_stored_abs = abs(v_stored)
    # the binary64 centre
    centre_v_i = b2_v + c2_g_squared
    centre_theta_i = theta_new
    centre_theta_abs = theta_new_abs
    if s.rectified:
        qc = centre_v_i if s.raw else centre_v_i * s.inv_bc2
        if s.rooted:
            qc += s.eps_root
        rc = np.sqrt(qc)
        rc += s.eps
        centre_theta_i = theta_in - coeff_m / rc
        centre_theta_abs = abs(centre_theta_i)
    centre_v_abs = abs(centre_v_i)
    fine &= (centre_theta_abs < math.inf) & (m_new_abs < math.inf) & (centre_v_abs < math.inf)
    i_theta, i_m, i_v, ok = _bound(
        impl, s, a_theta, a_m, a_v, theta_abs, g_abs, m_abs, v, m_new_abs,
        c1_g_abs, g_squared, v_stored, c2_g_squared, q, root, den, update_abs,
        results_abs)
    fine &= ok
    o_theta, o_m, o_v, ok = _bound(
        own, s, 0.0, 0.0, 0.0, theta_abs, g_abs, m_abs, v, m_new_abs, c1_g_abs,
        g_squared, v_stored, c2_g_squared, q, root, den, update_abs, results_abs)
    fine &= ok
    t_theta = i_theta + o_theta
    t_m = i_m + o_m
    t_v = i_v + o_v
    fine &= ((t_theta > 0) & (t_theta <= _BOUND_MAX) & (t_m > 0) & (t_m <= _BOUND_MAX)
             & (t_v > 0) & (t_v <= _BOUND_MAX))
    size_theta = _fmax(_fmax(theta_abs, update_abs), theta_new_abs)
    size_m = _fmax(_fmax(m_abs, c1_g_abs), m_new_abs)
    size_v = _fmax(_fmax(v_abs, c2_g_g), v_stored_abs)
    in_range = ((centre_theta_abs <= s.largest) & (m_new_abs <= s.largest)
                & (centre_v_abs <= s.largest))
    return (centre_theta_i, m_new, centre_v_i, centre_theta_abs, m_new_abs, centre_v_abs,
            t_theta, t_m, t_v, size_theta, size_m, size_v, fine, in_range)


def _compare(got: float, want: float, want_abs: float, limit: float, size: float
             ) -> tuple[float, float, float, float, float, float]:
    """``fast_judge._compare`` for one element of one quantity: the ratio error / bound,
    the error in ulps at the result and at the operand scale, the error, the ulp and the
    ulp at the scale."""
    err = abs(got - want)
    ratio = err / limit
    scale = max(want_abs, abs(got))
    ulp = _ulp32(scale)
    at_scale = _ulp32(_fmax(size, scale))
    return ratio, err / ulp, err / at_scale, err, ulp, at_scale


def _fold(got: float, want: float, want_abs: float, limit: float, size: float,
          top: np.int64, in_result: np.int64, in_scale: np.int64
          ) -> tuple[float, np.int64, np.int64, np.int64]:
    """One element of one quantity compared (:func:`_compare`) and folded into the
    quantity's maxima, each the bits of a binary64 number without its sign: the ratio, and
    the largest ratio, error in ulps at the result and error in ulps at the scale so far."""
    ratio, e_result, e_scale, _, _, _ = _compare(got, want, want_abs, limit, size)
    return (ratio, max(top, _bits64(ratio) & _MAGNITUDE),
            max(in_result, _bits64(e_result) & _MAGNITUDE),
            max(in_scale, _bits64(e_scale) & _MAGNITUDE))


def _first(ratios: Array, top: np.int64) -> int:
    """The first element whose ratio has the bits ``top``."""
    i = 0
    while i < ratios.shape[0] - 1 and _bits64(ratios[i]) != top:
        i += 1
    return i


def _worst(row: Array, k: int, i: int, theta: Array, m: Array, v: Array, grad: Array,
           a_theta: Array, a_m: Array, a_v: Array, got: Array, s: StepScalars,
           impl: BoundScalars, own: BoundScalars, in_result: np.int64, in_scale: np.int64
           ) -> None:
    """Write quantity k's ``row`` of the result: element i's ratio, index, observed value,
    error, bound, ulp and ulp at the scale, and the largest errors in ulps (given as bits).
    Compiled apart from the loop (it runs once per quantity)."""
    out = _element(theta[i], m[i], v[i], grad[i], a_theta[i], a_m[i], a_v[i], s, impl, own)
    if k == 0:
        want, want_abs, limit, size = out[0], out[3], out[6], out[9]
    elif k == 1:
        want, want_abs, limit, size = out[1], out[4], out[7], out[10]
    else:
        want, want_abs, limit, size = out[2], out[5], out[8], out[11]
    ratio, _, _, err, ulp, at_scale = _compare(got[i], want, want_abs, limit, size)
    row[0] = ratio
    row[1] = i
    row[2] = got[i]
    row[3] = err
    row[4] = limit
    row[5] = ulp
    row[6] = at_scale
    row[7] = _from_bits64(in_result)
    row[8] = _from_bits64(in_scale)


def _judge_block(theta: Array, m: Array, v: Array, grad: Array,
                 a_theta: Array, a_m: Array, a_v: Array,
                 got_theta: Array, got_m: Array, got_v: Array, read: Array,
                 s: StepScalars, impl: BoundScalars, own: BoundScalars,
                 centre_theta: Array, centre_m: Array, centre_v: Array,
                 bound_theta: Array, bound_m: Array, bound_v: Array,
                 ratio_theta: Array, ratio_m: Array, ratio_v: Array,
                 result: Array) -> bool:
    """Judge one block: write the centre and the bounds, and per quantity k into
    ``result[k]`` the largest ratio, its first element, that element's observed value,
    error, bound, ulp and ulp at the operand scale, and the largest errors in ulps at the
    result and at the scale (NaN where one is NaN); ``result[3, 0]``: 1 if every centre is
    within the format's range. False where the block is left to the numpy path (what was
    written is then written again there)."""
    n = theta.shape[0]
    if n == 0:
        return False
    read_theta, read_m, read_v = read[0], read[1], read[2]
    fine = True
    in_range = True
    # the largest ratio and errors in ulps as the bits of a binary64 number without its
    # sign: an integer maximum, which vectorises, orders non-negative numbers as their
    # values and puts a NaN above every number
    top_theta = top_m = top_v = np.int64(0)
    res_theta = res_m = res_v = np.int64(0)
    sc_theta = sc_m = sc_v = np.int64(0)
    for i in range(n):
        (centre_theta_i, m_new, centre_v_i, centre_theta_abs, m_new_abs, centre_v_abs,
         t_theta, t_m, t_v, size_theta, size_m, size_v, ok, inside) = _element(
            theta[i], m[i], v[i], grad[i], a_theta[i], a_m[i], a_v[i], s, impl, own)
        fine &= ok
        in_range &= inside
        centre_theta[i] = centre_theta_i
        centre_m[i] = m_new
        centre_v[i] = centre_v_i
        bound_theta[i] = t_theta
        bound_m[i] = t_m
        bound_v[i] = t_v
        r, top_theta, res_theta, sc_theta = _fold(
            got_theta[i], centre_theta_i, centre_theta_abs, t_theta, size_theta, top_theta,
            res_theta, sc_theta)
        fine &= (r < math.inf) | (not read_theta)
        ratio_theta[i] = r
        r, top_m, res_m, sc_m = _fold(got_m[i], m_new, m_new_abs, t_m, size_m, top_m, res_m,
                                      sc_m)
        fine &= (r < math.inf) | (not read_m)
        ratio_m[i] = r
        r, top_v, res_v, sc_v = _fold(got_v[i], centre_v_i, centre_v_abs, t_v, size_v, top_v,
                                      res_v, sc_v)
        fine &= (r < math.inf) | (not read_v)
        ratio_v[i] = r
    if not fine:
        return False
    result[3, 0] = 1.0 if in_range else 0.0
    if read_theta:
        _worst(result[0], 0, _first(ratio_theta, top_theta), theta, m, v, grad, a_theta, a_m,
               a_v, got_theta, s, impl, own, res_theta, sc_theta)
    if read_m:
        _worst(result[1], 1, _first(ratio_m, top_m), theta, m, v, grad, a_theta, a_m, a_v,
               got_m, s, impl, own, res_m, sc_m)
    if read_v:
        _worst(result[2], 2, _first(ratio_v, top_v), theta, m, v, grad, a_theta, a_m, a_v,
               got_v, s, impl, own, res_v, sc_v)
    return True
