"""AMSGrad's claims: the paper's effective step never grows; with bias correction it can.

AMSGrad keeps v_max_t = max(v_max_{t-1}, v_t). In the paper's reading (Reddi et al. 2018,
Algorithm 2, no bias correction) the per-element effective step lr / sqrt(v_max_t) is
non-increasing, which its convergence proof needs. torch.optim.Adam(amsgrad=True) divides
v_max by 1 - b2^t, which grows with t, so the effective step
lr sqrt(1 - b2^t) / ((1 - b1^t) sqrt(v_max_t)) can grow: a case is checked exactly.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from radam_verify.derivation.claims import (
    Claim,
    Step,
    claim,
    identity,
    positive,
    solution_set,
)

ALGORITHM = "AMSGrad"
lr, a, s = sp.symbols("lr a s", positive=True)

#: the case: g_1 = 1 then zero gradients, b1 = 0.9, b2 = 0.999, steps EARLY and LATE
BETA1, BETA2 = Fraction(9, 10), Fraction(999, 1000)
EARLY, LATE = 100, 1000


def claim_paper_step_non_increasing() -> Claim:
    # v_max_t = v_max_{t-1} + s with s >= 0; s > 0 is the case where it moves
    drop = lr / sp.sqrt(a) - lr / sp.sqrt(a + s)
    closed = lr * s / (sp.sqrt(a) * sp.sqrt(a + s) * (sp.sqrt(a + s) + sp.sqrt(a)))
    return claim(
        "amsgrad-paper-step-non-increasing",
        "Without bias correction, AMSGrad's effective step never grows",
        "v_max_t = max(v_max_{t-1}, v_t) = v_max_{t-1} + s with s >= 0, so the per-element "
        "effective step lr / sqrt(v_max_t) is at most lr / sqrt(v_max_{t-1}): their "
        "difference is lr s / (sqrt(a) sqrt(a + s) (sqrt(a + s) + sqrt(a))) >= 0, a = "
        "v_max_{t-1} > 0.",
        r"\frac{\mathrm{lr}}{\sqrt{\hat v^{\max}_t}} \le \frac{\mathrm{lr}}{\sqrt{\hat v^{\max}_{t-1}}}",
        [identity("the difference of the two effective steps in closed form", drop, closed),
         positive("it is positive when v_max moves (s > 0), and 0 when it does not", closed)],
        algorithm=ALGORITHM,
    )


def effective_step_squared(t: int) -> Fraction:
    """(sqrt(1 - b2^t) / ((1 - b1^t) sqrt(v_max)))^2 / lr^2 for g_1 = 1, then g = 0:
    v_t = b2^(t-1) (1 - b2) never exceeds v_1, so v_max_t = 1 - b2."""
    return (1 - BETA2**t) / ((1 - BETA1**t) ** 2 * (1 - BETA2))


def claim_bias_corrected_step_can_grow() -> Claim:
    early, late = effective_step_squared(EARLY), effective_step_squared(LATE)
    b2 = sp.Rational(BETA2.numerator, BETA2.denominator)
    tt = sp.Symbol("t", integer=True, positive=True)
    v_t = b2 ** (tt - 1) * (1 - b2)
    real_t = sp.Symbol("t", real=True)
    return claim(
        "amsgrad-bias-corrected-step-can-grow",
        "With torch's bias correction, AMSGrad's effective step can grow",
        f"With b1 = {BETA1}, b2 = {BETA2}, g_1 = 1 and zero gradients afterwards, v_max_t = "
        f"1 - b2 for every t, and the effective step lr sqrt(1 - b2^t) / ((1 - b1^t) "
        f"sqrt(v_max_t)) is larger at t = {LATE} than at t = {EARLY} (its square is "
        f"{float(late):.6g} lr^2 against {float(early):.6g} lr^2).",
        r"\frac{\sqrt{1-\beta_2^{t}}}{(1-\beta_1^{t})\sqrt{v^{\max}_{t}}}\Big|_{t=1000} > "
        r"\frac{\sqrt{1-\beta_2^{t}}}{(1-\beta_1^{t})\sqrt{v^{\max}_{t}}}\Big|_{t=100}",
        [identity("v_1 - v_{t+1} in closed form", (1 - b2) - v_t.subs(tt, tt + 1),
                  (1 - b2) * (1 - b2**tt)),
         solution_set("it is positive for every t > 0: b2^t < 1, so v_max_t = v_1 = 1 - b2",
                      b2**real_t < 1, real_t, sp.Interval.open(0, sp.oo), sp.Reals),
         Step(f"the squared effective step at t = {LATE} exceeds the one at t = {EARLY}",
              rf"{sp.latex(sp.Rational(late.numerator, late.denominator).evalf(8))} > "
              rf"{sp.latex(sp.Rational(early.numerator, early.denominator).evalf(8))}",
              "exact rational arithmetic", late > early)],
        algorithm=ALGORITHM,
    )


def amsgrad_claims() -> list[Claim]:
    return [claim_paper_step_non_increasing(), claim_bias_corrected_step_can_grow()]
