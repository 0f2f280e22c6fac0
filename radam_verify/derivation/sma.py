"""Claims about the SMA length rho_t (claims 1, 2 and 5 of the derivation)."""

from __future__ import annotations

import sympy as sp

from radam_verify.derivation import formulas as F
from radam_verify.derivation.claims import (
    Claim,
    Step,
    claim,
    identity,
    limit_is,
    positive,
    series_is,
    solution_set,
)

b2, t = F.beta2, F.t
_i = sp.Symbol("i", integer=True, positive=True)
_k = sp.Symbol("k", integer=True, nonnegative=True)
_f = sp.Symbol("f", positive=True)
_a = sp.Symbol("a", positive=True)  # beta2 = exp(-a), a > 0  <=>  0 < beta2 < 1
_u = sp.Symbol("u", positive=True)  # beta2 = exp(-2u)
_y = sp.Symbol("y", positive=True)
_z = sp.Symbol("z", positive=True)
_d = sp.Symbol("d", positive=True)  # d = 1 - beta2
_s = sp.Symbol("s", positive=True)  # beta2 = 1/(1+s)


def generic(expr: sp.Expr) -> sp.Expr:
    """The branch of a SymPy ``Piecewise`` that holds for b2 != 1 (the otherwise branch)."""
    expr = sp.piecewise_fold(expr)
    if isinstance(expr, sp.Piecewise):
        return expr.args[-1][0]
    return expr


def positive_series(description: str, expr: sp.Expr, var: sp.Symbol, term: sp.Expr,
                    start: int) -> list[Step]:
    """``expr = sum_{k>=start} term(k)`` with every term positive for ``var > 0``."""
    total = sp.summation(term, (_k, start, sp.oo))
    shifted = term.subs(_k, _k + start)
    return [
        identity(f"{description}: its power series", expr, total),
        positive(
            f"{description}: every term of the series is positive for {var} > 0",
            shifted,
            latex=rf"{sp.latex(term)} > 0 \quad (k \ge {start})",
        ),
    ]


def claim_sma_length() -> Claim:
    w = (1 - b2) * b2 ** (t - _i) / (1 - b2**t)
    ema_centre = t - b2 / (1 - b2) + t * b2**t / (1 - b2**t)
    sma_centre = t + sp.Rational(1, 2) - _f / 2
    solved = sp.solve(sp.Eq(ema_centre, sma_centre), _f)
    steps = [
        identity("the EMA weights sum to one", generic(sp.summation(w, (_i, 1, t))), sp.Integer(1)),
        identity("centre of mass of the EMA weights, summed by SymPy",
                 generic(sp.summation(w * _i, (_i, 1, t))), ema_centre),
        identity("centre of mass of an SMA of length f over g_t, ..., g_{t+1-f}",
                 sp.summation((t + 1 - _i) / _f, (_i, 1, _f)), sma_centre),
        Step("the matching equation is linear in f and has exactly one solution",
             rf"f \in {sp.latex(solved)}", "symbolic solve", len(solved) == 1),
    ]
    if len(solved) == 1:
        steps.append(identity("the solution is rho_t", solved[0], F.rho_t(t, b2)))
    return claim(
        "sma-length",
        "The SMA length rho_t",
        "Matching the centre of mass of the EMA weights (1-b2) b2^(t-i) / (1-b2^t) with that "
        "of a simple moving average of length f gives f = rho_inf - 2 t b2^t / (1 - b2^t).",
        r"\rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1-\beta_2^t}",
        steps,
    )


def claim_rho_inf() -> Claim:
    rho_exp = F.rho_t(t, sp.exp(-_a))
    return claim(
        "rho-inf",
        "The limit rho_inf",
        "rho_inf = 2/(1-b2) - 1 = (1+b2)/(1-b2) is the limit of rho_t as t -> oo, for 0 < b2 < 1.",
        r"\rho_\infty = \frac{2}{1-\beta_2} - 1 = \frac{1+\beta_2}{1-\beta_2}",
        [
            identity("two forms of rho_inf", F.rho_inf(b2), (1 + b2) / (1 - b2)),
            limit_is("with beta2 = exp(-a), a > 0, rho_t tends to rho_inf",
                     rho_exp, t, sp.oo, F.rho_inf(sp.exp(-_a))),
        ],
    )


def claim_rho_one() -> Claim:
    return claim(
        "rho-one",
        "The first step",
        "rho_1 = 1 for every b2: one gradient is an SMA of length one.",
        r"\rho_1 = 1",
        [identity("substitute t = 1", F.rho_t(sp.Integer(1), b2), sp.Integer(1))],
    )


def _hyperbolic_form() -> sp.Expr:
    return t + sp.coth(_u) - t * sp.coth(t * _u)


def claim_rho_increasing() -> Claim:
    hyper = _hyperbolic_form()
    derivative = 1 - sp.coth(_y) + _y / sp.sinh(_y) ** 2
    numerator = sp.exp(_z) * (_z - 1) + 1
    steps = [
        identity("with beta2 = exp(-2u), u > 0: a hyperbolic form of rho_t",
                 F.rho_t(t, sp.exp(-2 * _u)), hyper),
        identity("d rho_t / dt, with y = t u",
                 sp.diff(hyper, t), derivative.subs(_y, t * _u)),
        identity("the derivative as exp(-z) N(z) / (2 sinh(z/2)^2) with z = 2y",
                 derivative, (sp.exp(-_z) * numerator / (2 * sp.sinh(_z / 2) ** 2)).subs(_z, 2 * _y)),
        *positive_series("N(z) = exp(z)(z-1) + 1", numerator, _z,
                         (_k - 1) * _z**_k / sp.factorial(_k), 2),
    ]
    return claim(
        "rho-increasing",
        "rho_t increases with t",
        "rho_t increases strictly in t (as a function of real t > 0), for every 0 < b2 < 1.",
        r"\frac{\partial \rho_t}{\partial t} > 0",
        steps,
    )


def claim_rho_below_t() -> Claim:
    hyper = _hyperbolic_form()
    g = _y * sp.coth(_y)
    g_prime = (sp.sinh(2 * _y) - 2 * _y) / (2 * sp.sinh(_y) ** 2)
    steps = [
        identity("t - rho_t = (g(t u) - g(u)) / u with g(y) = y coth(y)",
                 t - hyper, (g.subs(_y, t * _u) - g.subs(_y, _u)) / _u),
        identity("g'(y) = (sinh(2y) - 2y) / (2 sinh(y)^2)", sp.diff(g, _y), g_prime),
        *positive_series("sinh(z) - z", sp.sinh(_z) - _z, _z,
                         _z ** (2 * _k + 1) / sp.factorial(2 * _k + 1), 1),
    ]
    return claim(
        "rho-below-t",
        "rho_t < t after the first step",
        "rho_t < t for t >= 2: g(y) = y coth(y) increases, and t u > u when t > 1.",
        r"\rho_t < t \quad (t \ge 2)",
        steps,
    )


def claim_rho_series() -> Claim:
    expected = t - (t**2 - 1) * _d / 6
    return claim(
        "rho-series",
        "rho_t near b2 = 1",
        "rho_t = t - (t^2 - 1) d / 6 + O(d^2) with d = 1 - b2.",
        r"\rho_t = t - \frac{(t^2-1)\,d}{6} + O(d^2), \quad d = 1-\beta_2",
        [series_is("series in d = 1 - beta2", F.rho_t(t, 1 - _d), _d, 0, 2, expected)],
    )


def claim_rho_cancellation_free() -> Claim:
    free = F.rho_t_cancellation_free(t, b2)
    numerator, denominator = sp.fraction(free)
    return claim(
        "rho-cancellation-free",
        "A cancellation-free form of rho_t",
        "rho_t = sum_{k<t} (2k+1) b2^k / sum_{k<t} b2^k: a weighted mean of 1, 3, ..., 2t-1 "
        "with positive weights, so no large terms cancel when b2 is near 1.",
        r"\rho_t = \frac{\sum_{k<t} (2k+1)\beta_2^k}{\sum_{k<t} \beta_2^k}",
        [
            identity("the sums in closed form (b2 != 1), equal to rho_t",
                     generic(numerator.doit()) / generic(denominator.doit()), F.rho_t(t, b2)),
        ],
    )


def claim_rectification_possible() -> Claim:
    domain = sp.Interval.open(0, 1)
    steps = [
        solution_set("rho_inf > 4 exactly when b2 > 3/5",
                     F.rho_inf(b2) > 4, b2, sp.Interval.open(sp.Rational(3, 5), 1), domain),
        solution_set("rho_inf > 5 exactly when b2 > 2/3",
                     F.rho_inf(b2) > 5, b2, sp.Interval.open(sp.Rational(2, 3), 1), domain),
        identity("with beta2 = exp(-a), a > 0: rho_inf - rho_t = 2t / (exp(a t) - 1)",
                 F.rho_inf(sp.exp(-_a)) - F.rho_t(t, sp.exp(-_a)), 2 * t / (sp.exp(_a * t) - 1)),
        *positive_series("exp(z) - 1, so rho_inf - rho_t > 0", sp.exp(_z) - 1, _z,
                         _z**_k / sp.factorial(_k), 1),
    ]
    return claim(
        "rectification-possible",
        "When rectification can start",
        "Since rho_t < rho_inf, rectification can ever start only when rho_inf exceeds the "
        "threshold: b2 > 3/5 for threshold 4 and b2 > 2/3 for threshold 5.",
        r"\rho_\infty > 4 \iff \beta_2 > \tfrac35,\qquad \rho_\infty > 5 \iff \beta_2 > \tfrac23",
        steps,
    )


def sma_claims() -> list[Claim]:
    """Claims 1 and 2: where rho_t comes from and how it behaves."""

    return [
        claim_sma_length(),
        claim_rho_inf(),
        claim_rho_one(),
        claim_rho_increasing(),
        claim_rho_below_t(),
        claim_rho_series(),
        claim_rho_cancellation_free(),
        claim_rectification_possible(),
    ]
