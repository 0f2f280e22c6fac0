"""The exact reference: trajectories and single steps of RAdam's family in mpmath.

Inputs (initial parameters, gradients, state) are binary floats taken at their exact
value; every operation runs at ``precision_bits`` bits (default
:data:`~radam_verify.precision.DEFAULT_PRECISION_BITS` = 128, against binary64's 53), so
each step's result is within about 2^-120 of exact arithmetic, relative to the operands:
far below a float64 ulp. The per-step scalars come from the certified schedule and are
hoisted out of the element loop, which runs on mpmath's raw numbers (``mpmath.libmp``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import mpmath
from mpmath import libmp

from radam_verify.conventions import Convention, LookaheadAction
from radam_verify.errors import OutOfDomainError
from radam_verify.hyper import Hyper
from radam_verify.powers import Powers
from radam_verify.precision import DEFAULT_PRECISION_BITS, real
from radam_verify.schedule import ScheduleStep, schedule_step

RawMpf = tuple[int, int, int, int]
_RND = libmp.round_nearest
_ZERO: RawMpf = libmp.fzero


@dataclass(frozen=True)
class ExactState:
    """theta, m (first moment), v (second moment) and the step count t of one tensor, and
    AMSGrad's running maximum v_max (in the reading's coordinates: of v or of v_hat; empty
    where the reading keeps none, or where it starts at zero), and Lookahead's slow weights
    phi (empty where the reading has no Lookahead, or before the first step: theta then)."""

    theta: tuple[mpmath.mpf, ...]
    m: tuple[mpmath.mpf, ...]
    v: tuple[mpmath.mpf, ...]
    t: int
    v_max: tuple[mpmath.mpf, ...] = ()
    slow: tuple[mpmath.mpf, ...] = ()

    @classmethod
    def initial(cls, theta: Iterable[float]) -> ExactState:
        values = tuple(real.mpf(float(x)) for x in theta)
        zeros = tuple(real.zero for _ in values)
        return cls(values, zeros, zeros, 0)

    @classmethod
    def from_floats(
        cls, theta: Iterable[float], m: Iterable[float], v: Iterable[float], t: int,
        v_max: Iterable[float] | None = None, slow: Iterable[float] | None = None,
    ) -> ExactState:
        """A state an implementation holds (its float values, exactly), e.g. at t = 10^6."""
        return cls(
            tuple(real.mpf(float(x)) for x in theta),
            tuple(real.mpf(float(x)) for x in m),
            tuple(real.mpf(float(x)) for x in v),
            t,
            () if v_max is None else tuple(real.mpf(float(x)) for x in v_max),
            () if slow is None else tuple(real.mpf(float(x)) for x in slow),
        )

    def slow_weights(self) -> tuple[mpmath.mpf, ...]:
        """Lookahead's slow weights phi: theta where none are held yet (before the first
        step, phi is the parameters themselves)."""
        return self.slow or self.theta

    def slow_floats(self) -> list[float]:
        """phi rounded to binary64 (theta where none are held yet)."""
        return [float(x) for x in self.slow_weights()]

    def maxima(self) -> tuple[mpmath.mpf, ...]:
        """v_max, zeros where the state has none yet (AMSGrad starts its maximum at 0)."""
        return self.v_max or tuple(real.zero for _ in self.v)

    def max_floats(self) -> list[float]:
        """v_max rounded to binary64 (zeros where the state has none yet)."""
        return [float(x) for x in self.maxima()]

    def floats(self) -> tuple[list[float], list[float], list[float]]:
        """theta, m, v rounded to binary64 (for display and the error model)."""
        return ([float(x) for x in self.theta], [float(x) for x in self.m],
                [float(x) for x in self.v])


@dataclass(frozen=True)
class StepScalars:
    """Everything one step needs besides the elements, exact to the working precision."""

    schedule: ScheduleStep
    rectified: bool


def _raw(value: mpmath.mpf) -> RawMpf:
    return value._mpf_  # type: ignore[no-any-return]


def exact_step(
    state: ExactState,
    grad: Sequence[float] | None,
    hyper: Hyper,
    convention: Convention,
    *,
    precision_bits: int = DEFAULT_PRECISION_BITS,
    rectified: bool | None = None,
    clock: int | None = None,
    powers: Powers | None = None,
) -> ExactState:
    """One RAdam step from ``state`` with gradient ``grad`` (None: the tensor is not stepped).

    ``rectified`` forces the branch (to follow an implementation through an ambiguous
    step); by default the certified decision of the schedule is used. ``clock``: the
    group's count of steps after this one, which Lookahead follows where the reading counts
    them per group (None: the tensor's own count); there a tensor without a gradient is
    synced too where the reading syncs every tensor of the group (``group-all``).
    ``powers``: the running products of the betas standing for b1^t and b2^t, where the
    reading forms its corrections from them and a schedule changed a beta
    (:func:`radam_verify.powers.running_powers`; None: the step's own betas' powers).
    Raises :class:`OutOfDomainError` where exact arithmetic is undefined (0/0 with eps = 0).
    With AMSGrad (``convention.amsgrad``) the root is taken of the running maximum: of v
    (``v``), bias-corrected as the eps placement says, or of v_hat (``v_hat``); a reading's
    ``eps_root`` is added to what the root is taken of.
    """
    holds = slow_held(state, convention)
    if grad is None:
        action = convention.lookahead_action(state.t, clock, stepped=False, holds=holds)
        if action == "none":
            return state
        synced, phi = lookahead_end(state.theta, state.slow_weights(), action,
                                    convention.lookahead_alpha, precision_bits)
        return ExactState(synced, state.m, state.v, state.t, state.v_max, phi)
    t = state.t + 1
    if (not state.slow and state.t > 0 and convention.lookahead_count == "tensor"
            and convention.holds_slow(state.t)):
        raise OutOfDomainError(f"a Lookahead state at t={state.t} needs its slow weights phi")
    sched = schedule_step(t, hyper.beta1, hyper.beta2, convention, precision_bits=precision_bits,
                          powers=powers)
    branch = sched.rectified if rectified is None else rectified
    prec = precision_bits
    mul, add, div, sqrt = libmp.mpf_mul, libmp.mpf_add, libmp.mpf_div, libmp.mpf_sqrt
    f = libmp.from_float
    b1, b2 = f(hyper.beta1), f(hyper.beta2)
    one_b1 = libmp.mpf_sub(libmp.fone, b1, prec, _RND)
    one_b2 = libmp.mpf_sub(libmp.fone, b2, prec, _RND)
    eps, wd, lr = f(hyper.eps), f(hyper.weight_decay), f(hyper.lr)
    eps_root = f(convention.root_offset) if convention.eps_root else None
    l2 = convention.weight_decay == "l2" and hyper.weight_decay != 0.0
    with real.workprec(prec):
        bc1, bc2 = sched.bias_correction1, sched.bias_correction2
        if branch:
            r = sched.r_t if sched.r_t is not None else _forced_r(sched)
            # LAMB's direction u leaves lr out: its step is lr R (u + wd theta)
            step_lr = real.one if convention.is_lamb else real.mpf(hyper.lr)
            if convention.eps == "raw":
                coeff = _raw(step_lr * r * real.sqrt(bc2) / bc1)
            else:
                coeff = _raw(step_lr * r / bc1)
            inv_bc2 = _raw(1 / bc2)
        elif convention.below == "sgd":
            coeff, inv_bc2 = _raw(real.mpf(hyper.lr) / bc1), _ZERO
        else:
            coeff, inv_bc2 = _ZERO, _ZERO
        updates = branch or convention.below == "sgd"
        decay: RawMpf | None = None
        if hyper.weight_decay != 0.0 and (updates or convention.decay_on_skip):
            if convention.decays_with_lr:
                decay = libmp.mpf_sub(libmp.fone, mul(lr, wd, prec, _RND), prec, _RND)
            elif convention.weight_decay == "decoupled-unscaled":
                decay = libmp.mpf_sub(libmp.fone, wd, prec, _RND)
    thetas, ms, vs, maxima, directions = [], [], [], [], []
    lamb = convention.is_lamb
    hat = convention.eps == "hat"
    amsgrad = convention.amsgrad
    held = state.maxima() if amsgrad != "none" else state.v
    for theta_x, m_x, v_x, max_x, g_float in zip(state.theta, state.m, state.v, held, grad,
                                                 strict=True):
        theta, m, v = theta_x._mpf_, m_x._mpf_, v_x._mpf_
        g = f(float(g_float))
        if hyper.maximize:
            g = libmp.mpf_neg(g)
        if l2:
            g = add(g, mul(wd, theta, prec, _RND), prec, _RND)
        m = add(mul(b1, m, prec, _RND), mul(one_b1, g, prec, _RND), prec, _RND)
        v = add(mul(b2, v, prec, _RND), mul(one_b2, mul(g, g, prec, _RND), prec, _RND), prec, _RND)
        if decay is not None:
            theta = mul(decay, theta, prec, _RND)
        read = v
        if amsgrad == "v":
            read = _larger(max_x._mpf_, v)
            maxima.append(real.make_mpf(read))
        elif amsgrad == "v_hat":
            v_hat = mul(v, inv_bc2, prec, _RND)
            read = _larger(max_x._mpf_, v_hat)
            maxima.append(real.make_mpf(read))
        if branch:
            q = read if amsgrad == "v_hat" or not hat else mul(read, inv_bc2, prec, _RND)
            if eps_root is not None:  # inside the root: sqrt(q + eps_root)
                q = add(q, eps_root, prec, _RND)
            root = sqrt(q, prec, _RND)
            den = add(root, eps, prec, _RND)
            if den == _ZERO:
                raise OutOfDomainError("0/0: eps = 0 and the second moment is exactly zero")
            u = div(mul(coeff, m, prec, _RND), den, prec, _RND)
            if lamb:  # the step waits for the tensor's norms
                directions.append(u)
            else:
                theta = libmp.mpf_sub(theta, u, prec, _RND)
        elif updates:
            theta = libmp.mpf_sub(theta, mul(coeff, m, prec, _RND), prec, _RND)
        thetas.append(real.make_mpf(theta))
        ms.append(real.make_mpf(m))
        vs.append(real.make_mpf(v))
    if lamb:
        thetas = [real.make_mpf(x) for x in _lamb_step([x._mpf_ for x in thetas],
                                                       [x._mpf_ for x in state.theta],
                                                       directions, hyper, convention, prec)]
    new_theta: tuple[mpmath.mpf, ...] = tuple(thetas)
    slow: tuple[mpmath.mpf, ...] = state.slow if convention.lookahead else ()
    if convention.lookahead:
        if holds and not slow:  # phi = theta0, held from the start
            slow = state.theta
        action = convention.lookahead_action(t, clock, holds=holds)
        if action != "none":
            new_theta, slow = lookahead_end(new_theta, slow, action, convention.lookahead_alpha,
                                            prec)
    return ExactState(new_theta, tuple(ms), tuple(vs), t, tuple(maxima), slow)


def _lamb_step(theta_in: list[RawMpf], theta: list[RawMpf], u: list[RawMpf], hyper: Hyper,
               convention: Convention, prec: int) -> list[RawMpf]:
    """LAMB's step of one tensor: theta_in - lr R w with w = u + wd theta (``in-ratio``) or
    u, and the trust ratio R = min(phi(||theta_in||) / ||w||, trust_max), phi(x) = min(x,
    phi_max), R = 1 where either norm is zero or the reading does not adapt this tensor."""
    mul, add, rnd = libmp.mpf_mul, libmp.mpf_add, _RND
    f = libmp.from_float
    w = u
    if convention.weight_decay == "in-ratio" and hyper.weight_decay != 0.0:
        wd = f(hyper.weight_decay)
        w = [add(x, mul(wd, th, prec, rnd), prec, rnd) for x, th in zip(u, theta, strict=True)]
    ratio = libmp.fone
    if convention.trusts(hyper.weight_decay):
        norm_theta, norm_w = _norm(theta_in, prec), _norm(w, prec)
        phi = norm_theta
        if math.isfinite(convention.phi_max):
            phi = _smaller(phi, f(convention.phi_max))
        if phi != _ZERO and norm_w != _ZERO:
            ratio = libmp.mpf_div(phi, norm_w, prec, rnd)
            if math.isfinite(convention.trust_max):
                ratio = _smaller(ratio, f(convention.trust_max))
    step = mul(f(hyper.lr), ratio, prec, rnd)
    return [libmp.mpf_sub(th, mul(step, x, prec, rnd), prec, rnd)
            for th, x in zip(theta_in, w, strict=True)]


def _norm(values: Sequence[RawMpf], prec: int) -> RawMpf:
    """The Euclidean norm of raw mpmath numbers at ``prec`` bits."""
    total = _ZERO
    for x in values:
        total = libmp.mpf_add(total, libmp.mpf_mul(x, x, prec, _RND), prec, _RND)
    return libmp.mpf_sqrt(total, prec, _RND)  # type: ignore[no-any-return]


def slow_held(state: ExactState, convention: Convention) -> bool:
    """Whether a tensor in ``state`` holds Lookahead's slow weights: from the step its count
    says (counting its own steps), or (counted per group, where a tensor without a gradient
    may miss its group's syncs) from the start where the reading starts them at theta0,
    else once they are set."""
    if convention.lookahead_count == "tensor":
        return convention.holds_slow(state.t)
    return convention.lookahead and (convention.lookahead_start == "theta0" or bool(state.slow))


def lookahead_end(theta: tuple[mpmath.mpf, ...], slow: tuple[mpmath.mpf, ...],
                  action: LookaheadAction, alpha: float, prec: int
                  ) -> tuple[tuple[mpmath.mpf, ...], tuple[mpmath.mpf, ...]]:
    """(theta, phi) after Lookahead's ``action`` at the end of a step: ``set``, phi = theta;
    ``sync``, phi += alpha (theta - phi) and theta = phi (exactly, at ``prec`` bits)."""
    if action == "set":
        return theta, theta
    with real.workprec(prec):
        weight = real.mpf(alpha)._mpf_
        moved = tuple(real.make_mpf(_lerp(p._mpf_, x._mpf_, weight, prec))
                      for p, x in zip(slow, theta, strict=True))
    return moved, moved


def _smaller(x: RawMpf, y: RawMpf) -> RawMpf:
    """min(x, y) of two raw mpmath numbers (exact: one of them)."""
    return x if libmp.mpf_cmp(x, y) <= 0 else y


def _lerp(phi: RawMpf, x: RawMpf, alpha: RawMpf, prec: int) -> RawMpf:
    """phi + alpha (x - phi) of raw mpmath numbers at ``prec`` bits."""
    moved = libmp.mpf_mul(alpha, libmp.mpf_sub(x, phi, prec, _RND), prec, _RND)
    return libmp.mpf_add(phi, moved, prec, _RND)  # type: ignore[no-any-return]


def _larger(x: RawMpf, y: RawMpf) -> RawMpf:
    """max(x, y) of two raw mpmath numbers (exact: one of them)."""
    return x if libmp.mpf_cmp(x, y) >= 0 else y


def _forced_r(sched: ScheduleStep) -> mpmath.mpf:
    """r_t for a step forced onto the rectified branch (inside the ambiguity band)."""
    rho, inf = sched.rho_t, sched.rho_inf
    square = (rho - 4) * (rho - 2) * inf / ((inf - 4) * (inf - 2) * rho)
    return real.sqrt(max(square, real.zero))


def exact_trajectory(
    theta0: Sequence[float],
    grads: Sequence[Sequence[float] | None],
    hyper: Hyper,
    convention: Convention,
    *,
    precision_bits: int = DEFAULT_PRECISION_BITS,
    start: ExactState | None = None,
) -> list[ExactState]:
    """The exact states after each step (index k: after step k+1); None skips the tensor
    (a step of its group: the group's count, from the start's t, advances)."""
    state = start if start is not None else ExactState.initial(theta0)
    states = []
    clock = state.t  # the group's count: every entry is one of its steps
    for grad in grads:
        clock += 1
        state = exact_step(state, grad, hyper, convention, precision_bits=precision_bits,
                           clock=clock)
        states.append(state)
    return states


@dataclass(frozen=True)
class Group:
    """A parameter group: its own hyperparameters and initial parameter tensors (flat)."""

    hyper: Hyper
    params: tuple[tuple[float, ...], ...]


def exact_groups(
    groups: Sequence[Group],
    grads: Sequence[Sequence[Sequence[Sequence[float] | None]]],
    convention: Convention,
    *,
    precision_bits: int = DEFAULT_PRECISION_BITS,
) -> list[list[ExactState]]:
    """Several groups over several steps: ``grads[step][group][param]`` (None: not stepped).

    Each tensor keeps its own step count, as the implementations do; every group counts
    every step (Lookahead's clock, where the reading counts per group).
    """
    states = [[ExactState.initial(p) for p in group.params] for group in groups]
    for clock, step_grads in enumerate(grads, start=1):
        states = [
            [exact_step(s, g, group.hyper, convention, precision_bits=precision_bits,
                        clock=clock)
             for s, g in zip(group_states, group_grads, strict=True)]
            for group, group_states, group_grads in zip(groups, states, step_grads, strict=True)
        ]
    return states
