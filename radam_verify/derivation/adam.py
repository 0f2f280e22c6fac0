"""Adam's claims: unbiased bias corrections, the first step with eps = 0, invariance to the
scale of the gradients, and how RAdam's rectified step tends to Adam's.

Adam is RAdam with r_t = 1 on every step (``conventions.py``, ``algorithm=adam``); these
claims are what the suite's Adam properties rest on (``adam-first-step-sign``: the first
step is exactly +-lr per element; ``adam-scale-invariance``: the trajectory does not depend
on the gradients' scale).
"""

from __future__ import annotations

import mpmath
import sympy as sp

from radam_verify.derivation import formulas as F
from radam_verify.derivation.claims import Claim, claim, identity, limit_is, numeric, series_is

beta1, beta2, lr, c = sp.symbols("beta1 beta2 lr c", positive=True)
g = sp.Symbol("g", real=True, nonzero=True)
m, v, mu, s2 = sp.symbols("m v mu s2", real=True)
t = sp.Symbol("t", integer=True, positive=True)
k = sp.Symbol("k", integer=True, nonnegative=True)
delta = sp.Symbol("delta", positive=True)
ALGORITHM = "Adam"

#: the b2 and step of the numeric check of RAdam's distance to Adam
NEAR_BETA2, NEAR_T = sp.Rational(999, 1000), 10_000


def claim_bias_correction_unbiased() -> Claim:
    weight1 = sp.Sum((1 - beta1) * beta1**k, (k, 0, t - 1)).doit()
    weight2 = sp.Sum((1 - beta2) * beta2**k, (k, 0, t - 1)).doit()
    return claim(
        "bias-correction-unbiased",
        "The bias corrections make m_hat and v_hat unbiased",
        "m_t = (1 - b1) sum_{k<t} b1^k g_{t-k} starts from m_0 = 0, so for gradients with a "
        "stationary mean E[g] = mu its expectation is (1 - b1^t) mu: dividing by 1 - b1^t "
        "(m_hat) removes the bias; the same holds for v_t and E[g^2] with b2.",
        r"\mathbb{E}[\hat m_t] = \frac{(1-\beta_1)\sum_{k<t}\beta_1^k\,\mu}{1-\beta_1^t} = \mu",
        [identity("the weights of m_t sum to 1 - b1^t", weight1, 1 - beta1**t),
         identity("the weights of v_t sum to 1 - b2^t", weight2, 1 - beta2**t),
         identity("E[m_hat_t] = mu", weight1 * mu / (1 - beta1**t), mu),
         identity("E[v_hat_t] = E[g^2]", weight2 * s2 / (1 - beta2**t), s2)],
        algorithm=ALGORITHM,
    )


def claim_first_step_sign() -> Claim:
    m_hat = (1 - beta1) * g / (1 - beta1)
    v_hat = (1 - beta2) * g**2 / (1 - beta2)
    return claim(
        "adam-first-step-sign",
        "With eps = 0, Adam's first step is lr times the sign of the gradient",
        "From m_0 = v_0 = 0, step 1 has m_hat_1 = g and v_hat_1 = g^2, so with eps = 0 every "
        "element with a non-zero gradient moves by exactly lr, against its gradient, whatever "
        "b1, b2 and the gradient's size.",
        r"\theta_1 = \theta_0 - \mathrm{lr}\,\frac{\hat m_1}{\sqrt{\hat v_1}} "
        r"= \theta_0 - \mathrm{lr}\,\operatorname{sign}(g_1)",
        [identity("m_hat_1 = g", m_hat, g),
         identity("v_hat_1 = g^2", v_hat, g**2),
         identity("lr m_hat_1 / sqrt(v_hat_1) = lr sign(g)", lr * m_hat / sp.sqrt(v_hat),
                  lr * sp.sign(g))],
        algorithm=ALGORITHM,
    )


def claim_scale_invariance() -> Claim:
    return claim(
        "adam-scale-invariance",
        "With eps = 0, Adam's trajectory does not change when the gradients are scaled",
        "Multiplying every gradient by c > 0 multiplies m_t by c and v_t by c^2 at every step "
        "(induction from m_0 = v_0 = 0), and m_hat / sqrt(v_hat) is unchanged; so is every "
        "step, for L2-free Adam with eps = 0.",
        r"\frac{c\,\hat m_t}{\sqrt{c^2\,\hat v_t}} = \frac{\hat m_t}{\sqrt{\hat v_t}}",
        [identity("m_t with c g from c m_{t-1} is c m_t",
                  beta1 * (c * m) + (1 - beta1) * (c * g), c * (beta1 * m + (1 - beta1) * g)),
         identity("v_t with c g from c^2 v_{t-1} is c^2 v_t",
                  beta2 * (c**2 * v) + (1 - beta2) * (c * g) ** 2,
                  c**2 * (beta2 * v + (1 - beta2) * g**2)),
         identity("the update is unchanged (v > 0)",
                  c * m / sp.sqrt(c**2 * sp.Symbol("v", positive=True)),
                  m / sp.sqrt(sp.Symbol("v", positive=True)))],
        algorithm=ALGORITHM,
    )


def claim_eps_root_first_step() -> Claim:
    rho = sp.Symbol("eps_root", positive=True)
    x = sp.Symbol("x", positive=True)  # |g|
    step = lr * x / sp.sqrt(x**2 + rho)
    return claim(
        "adam-eps-root-first-step",
        "With a constant inside the root, Adam's first step is below lr and linear in small "
        "gradients",
        "With eps = 0 and eps_root > 0 inside the root (optax's sqrt(v_hat + eps_root)), step "
        "1 moves an element by lr |g| / sqrt(g^2 + eps_root) against its gradient: strictly "
        "less than lr, tending to lr as |g| grows, and to lr |g| / sqrt(eps_root), the size "
        "of an SGD step, as g -> 0. So eps_root = 0 is the only reading whose first step is "
        "lr sign(g) (adam-first-step-sign): the probes and the properties tell the two apart "
        "wherever g^2 is comparable with eps_root.",
        r"|\theta_1 - \theta_0| = \mathrm{lr}\,\frac{|g|}{\sqrt{g^2 + \epsilon_\mathrm{root}}}"
        r" < \mathrm{lr}",
        [identity("lr^2 - step^2 = lr^2 eps_root / (g^2 + eps_root) > 0", lr**2 - step**2,
                  lr**2 * rho / (x**2 + rho)),
         limit_is("the step tends to lr as |g| grows", step, x, sp.oo, lr),
         series_is("and to lr |g| / sqrt(eps_root) as g -> 0", step, x, sp.Integer(0), 3,
                   lr * x / sp.sqrt(rho))],
        algorithm=ALGORITHM,
    )


def claim_one_bias_correction_first_step() -> Claim:
    m1, v1 = (1 - beta1) * g, (1 - beta2) * g**2
    return claim(
        "adam-one-bias-correction-first-step",
        "With one moment bias-corrected, Adam's first step is lr sign(g) scaled by the other's "
        "missing correction",
        "From m_0 = v_0 = 0, m_1 = (1 - b1) g and v_1 = (1 - b2) g^2. With eps = 0, dividing "
        "only v by 1 - b2^t (bias_correction=v, optax.amsgrad(bias_correction_mu=False)) "
        "makes step 1 (1 - b1) lr sign(g); dividing only m (bias_correction=m) makes it "
        "lr sign(g) / sqrt(1 - b2). Either differs from lr sign(g) (both corrected) and from "
        "(1 - b1) lr sign(g) / sqrt(1 - b2) (neither) for 0 < b1, b2 < 1, so the first step "
        "alone names the reading.",
        r"\theta_1 - \theta_0 = -(1-\beta_1)\,\mathrm{lr}\operatorname{sign}(g)\ (\text{v only}),"
        r"\quad -\frac{\mathrm{lr}\operatorname{sign}(g)}{\sqrt{1-\beta_2}}\ (\text{m only})",
        [identity("only v corrected: lr m_1 / sqrt(v_1 / (1 - b2)) = (1 - b1) lr sign(g)",
                  lr * m1 / sp.sqrt(v1 / (1 - beta2)), (1 - beta1) * lr * sp.sign(g)),
         identity("only m corrected: lr (m_1 / (1 - b1)) / sqrt(v_1) = lr sign(g) / "
                  "sqrt(1 - b2)", lr * (m1 / (1 - beta1)) / sp.sqrt(v1),
                  lr * sp.sign(g) / sp.sqrt(1 - beta2)),
         identity("neither: lr m_1 / sqrt(v_1) = (1 - b1) lr sign(g) / sqrt(1 - b2)",
                  lr * m1 / sp.sqrt(v1), (1 - beta1) * lr * sp.sign(g) / sp.sqrt(1 - beta2))],
        algorithm=ALGORITHM,
    )


def _r_distance_check() -> bool:
    """At b2 = 0.999 and t = 10^4, 1 - r_t agrees with its first-order term to 0.1%."""
    with mpmath.workprec(200):
        b2 = mpmath.mpf(NEAR_BETA2.p) / NEAR_BETA2.q
        inf = 2 / (1 - b2) - 1
        gap = 2 * NEAR_T * b2**NEAR_T / (1 - b2**NEAR_T)
        rho = inf - gap
        exact = 1 - mpmath.sqrt((rho - 4) * (rho - 2) * inf / ((inf - 4) * (inf - 2) * rho))
        first = gap * (inf**2 - 8) / (2 * inf * (inf - 2) * (inf - 4))
        return bool(abs(exact / first - 1) < mpmath.mpf("1e-3"))


def claim_radam_tends_to_adam() -> Claim:
    rho_inf = F.rho_inf_symbol
    r = sp.sqrt(F.r_t_squared(rho_inf - delta, rho_inf))
    first_order = delta * (rho_inf**2 - 8) / (2 * rho_inf * (rho_inf - 2) * (rho_inf - 4))
    gap = F.rho_inf(beta2) - F.rho_t(t, beta2)
    n = sp.Symbol("n", positive=True)
    return claim(
        "radam-tends-to-adam",
        "RAdam's rectified step tends to Adam's as r_t -> 1",
        "A rectified RAdam step is r_t times Adam's step from the same state (same m_hat, "
        "v_hat and eps), so they differ by (1 - r_t) lr m_hat / (sqrt(v_hat) + eps). With "
        "delta = rho_inf - rho_t = 2 t b2^t / (1 - b2^t), which tends to 0 as t grows, "
        "1 - r_t = delta (rho_inf^2 - 8) / (2 rho_inf (rho_inf - 2)(rho_inf - 4)) + O(delta^2).",
        r"1 - r_t = \frac{(\rho_\infty^2 - 8)\,\delta}{2\rho_\infty(\rho_\infty-2)(\rho_\infty-4)}"
        r" + O(\delta^2),\quad \delta = \rho_\infty - \rho_t = \frac{2t\beta_2^t}{1-\beta_2^t}",
        [identity("rho_inf - rho_t = 2 t b2^t / (1 - b2^t)", gap,
                  2 * t * beta2**t / (1 - beta2**t)),
         series_is("1 - r_t to first order in delta", 1 - r, delta, sp.Integer(0), 2,
                   first_order),
         limit_is(f"delta -> 0 as t -> oo (b2 = {NEAR_BETA2})",
                  2 * n * NEAR_BETA2**n / (1 - NEAR_BETA2**n), n, sp.oo, sp.Integer(0)),
         numeric(f"at b2 = {NEAR_BETA2}, t = {NEAR_T}: 1 - r_t is its first-order term "
                 "within 0.1%", r"\left|\frac{1-r_t}{\text{first order}} - 1\right| < 10^{-3}",
                 _r_distance_check, 200)],
        algorithm=ALGORITHM,
    )


def adam_claims() -> list[Claim]:
    return [claim_bias_correction_unbiased(), claim_first_step_sign(), claim_scale_invariance(),
            claim_radam_tends_to_adam(), claim_eps_root_first_step(),
            claim_one_bias_correction_first_step()]
