"""RAdam's closed forms as SymPy expressions: the single place the formulas are written.

The claims in :mod:`radam_verify.derivation` check these expressions; the numeric
reference evaluates its own transcription, and the tests require the two to agree.
Changing a formula here makes the claims that depend on it fail.
"""

from __future__ import annotations

import sympy as sp

beta2 = sp.Symbol("beta2", positive=True)
t = sp.Symbol("t", positive=True)
rho = sp.Symbol("rho", positive=True)
rho_inf_symbol = sp.Symbol("rho_inf", positive=True)
sigma = sp.Symbol("sigma", positive=True)


def rho_inf(b2: sp.Expr) -> sp.Expr:
    """Length of the approximating SMA as t -> oo: ``2/(1-beta2) - 1``."""
    return 2 / (1 - b2) - 1


def rho_t(step: sp.Expr, b2: sp.Expr) -> sp.Expr:
    """Length of the SMA whose centre of mass matches the EMA's at step ``t``."""
    return rho_inf(b2) - 2 * step * b2**step / (1 - b2**step)


def rho_t_cancellation_free(step: sp.Expr, b2: sp.Expr) -> sp.Expr:
    """``sum_{k<t} (2k+1) beta2^k / sum_{k<t} beta2^k``: no subtraction of large terms."""
    k = sp.Symbol("k", integer=True, nonnegative=True)
    numerator = sp.Sum((2 * k + 1) * b2**k, (k, 0, step - 1))
    denominator = sp.Sum(b2**k, (k, 0, step - 1))
    return numerator / denominator


def variance_psi_first_order(rho_value: sp.Expr, sig: sp.Expr) -> sp.Expr:
    """First-order (delta-method) variance of psi: ``rho / (2 (rho-2)(rho-4) sigma^2)``."""
    return rho_value / (2 * (rho_value - 2) * (rho_value - 4) * sig**2)


def r_t_squared(rho_value: sp.Expr, rho_infinity: sp.Expr) -> sp.Expr:
    """Square of the variance rectification term ``r_t``."""
    return (
        (rho_value - 4)
        * (rho_value - 2)
        * rho_infinity
        / ((rho_infinity - 4) * (rho_infinity - 2) * rho_value)
    )


def r_t_squared_wrong(rho_value: sp.Expr, rho_infinity: sp.Expr) -> sp.Expr:
    """A form found in write-ups, ``(rho_t-4)(rho_inf-4)/((rho_inf-2) rho_t)``; its limit is not 1."""
    return (rho_value - 4) * (rho_infinity - 4) / ((rho_infinity - 2) * rho_value)
