"""Running powers: the rho accumulator of an implementation that multiplies its powers by
each step's beta keeps rho's term equal to t P_t / (1 - P_t), P_t the product of the betas.

PaddlePaddle's radam kernel (paddle/phi/kernels/impl/radam_kernel_impl.h) holds b1^t, b2^t
and rho = t b2^t / (1 - b2^t) as accumulators: P_t = b_t P_{t-1} and rho_t = (rho_{t-1}
(b_t - P_t) + P_t) / (1 - P_t), with b_t the step's beta2. With a constant beta that is
t b2^t / (1 - b2^t); the claim is that it stays t P_t / (1 - P_t) when a schedule changes
beta2, which is what the reading ``powers=running`` forms (radam_verify.powers).
"""

from __future__ import annotations

import sympy as sp

from radam_verify.derivation.claims import Claim, claim, identity


def _advance(rho: sp.Expr, power: sp.Expr, beta: sp.Expr) -> sp.Expr:
    """One step of the kernel's rho recursion, the power already advanced (P_t = b P)."""
    return (rho * (beta - power) + power) / (1 - power)


def claim_running_rho() -> Claim:
    b, p, rho0 = sp.symbols("b P rho_0", positive=True)
    t = sp.Symbol("t", integer=True, positive=True)
    before = (t - 1) * p / (1 - p)  # rho_{t-1} with P = P_{t-1}
    return claim(
        "running-rho",
        "A rho accumulator advanced with each step's beta2 holds t P_t / (1 - P_t)",
        "With P_t = b_t P_{t-1}, P_0 = 1 and rho_t = (rho_{t-1} (b_t - P_t) + P_t) / (1 - "
        "P_t), rho_t = t P_t / (1 - P_t) for every t and every sequence of betas b_t: "
        "rho_t = rho_inf - 2 t P_t / (1 - P_t) is the step's rho_t with the running product "
        "in place of b2^t (and it is the count's, t b2^t / (1 - b2^t), for a constant beta2).",
        r"\rho_t = \frac{\rho_{t-1}(\beta_t - P_t) + P_t}{1 - P_t} = \frac{t P_t}{1 - P_t},"
        r"\quad P_t = \beta_t P_{t-1}",
        [identity("step 1 (P_0 = 1, P_1 = b): whatever rho_0 holds, rho_1 = P_1 / (1 - P_1)",
                  _advance(rho0, b, b), b / (1 - b)),
         identity("step t: rho_{t-1} = (t - 1) P / (1 - P) and P_t = b P give t P_t / (1 - "
                  "P_t), whatever b is", _advance(before, b * p, b), t * b * p / (1 - b * p)),
         identity("a constant beta2 (P_t = b^t): the count's term t b^t / (1 - b^t)",
                  _advance((t - 1) * b ** (t - 1) / (1 - b ** (t - 1)), b ** t, b),
                  t * b ** t / (1 - b ** t))],
    )


def powers_claims() -> list[Claim]:
    return [claim_running_rho()]
