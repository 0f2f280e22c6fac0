"""Claims about the variance of the adaptive learning rate (claims 3, 4 and 6).

psi^2 ~ Scaled-Inv-chi^2(rho, 1/sigma^2) means psi^2 = rho / (sigma^2 Y) with
Y ~ chi^2(rho). Every moment below comes from SymPy integrating the chi^2 density.
"""

from __future__ import annotations

import mpmath
import sympy as sp

from radam_verify.derivation import formulas as F
from radam_verify.derivation.claims import (
    Claim,
    claim,
    identity,
    limit_is,
    numeric,
    positive,
    solution_set,
)

rho, sigma, rho_inf = F.rho, F.sigma, F.rho_inf_symbol
_y = sp.Symbol("y", positive=True)
_p = sp.Symbol("p", real=True)
_s = sp.Symbol("s", positive=True)
_q = sp.Symbol("q", positive=True)
_w = sp.Symbol("w", positive=True)  # w = 1/rho
_CHECK_BITS = 200


def chi2_moment(power: sp.Expr) -> sp.Expr:
    """E[Y^power] for Y ~ chi^2(rho), integrated by SymPy (finite for rho/2 + power > 0)."""
    density = _y ** (rho / 2 - 1) * sp.exp(-_y / 2) / (2 ** (rho / 2) * sp.gamma(rho / 2))
    return sp.simplify(sp.integrate(_y**power * density, (_y, 0, sp.oo), conds="none"))


def exact_moments() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """E[psi^2], Var[psi^2] and Var[psi] from the chi^2 moments."""
    scale = rho / sigma**2
    mean_sq = scale * chi2_moment(-1)
    var_sq = scale**2 * (chi2_moment(-2) - chi2_moment(-1) ** 2)
    mean = sp.sqrt(scale) * chi2_moment(-sp.Rational(1, 2))
    var = mean_sq - mean**2
    return mean_sq, var_sq, var


def exact_variance_psi(rho_value: sp.Expr, sig: sp.Expr) -> sp.Expr:
    """Var[psi] in Gamma functions: rho/sigma^2 (1/(rho-2) - Gamma((rho-1)/2)^2 / (2 Gamma(rho/2)^2))."""
    ratio = sp.gamma((rho_value - 1) / 2) / sp.gamma(rho_value / 2)
    return rho_value / sig**2 * (1 / (rho_value - 2) - ratio**2 / 2)


def claim_moments() -> Claim:
    mean_sq, var_sq, var = exact_moments()
    first_order = F.variance_psi_first_order(rho, sigma)
    return claim(
        "psi-moments",
        "Moments of psi",
        "For psi^2 ~ Scaled-Inv-chi^2(rho, 1/sigma^2): E[psi^2] = rho/((rho-2) sigma^2) (rho > 2), "
        "Var[psi^2] = 2 rho^2/((rho-2)^2 (rho-4) sigma^4) (finite only for rho > 4), Var[psi] in "
        "Gamma functions (finite for rho > 2), and the first-order approximation "
        "Var[psi] ~ rho/(2 (rho-2)(rho-4) sigma^2).",
        r"\operatorname{Var}[\psi] \approx \frac{\rho}{2(\rho-2)(\rho-4)\sigma^2}",
        [
            identity("E[Y^p] for Y ~ chi^2(rho), integrated (needs rho/2 + p > 0)",
                     chi2_moment(_p), 2**_p * sp.gamma(rho / 2 + _p) / sp.gamma(rho / 2)),
            identity("E[psi^2] = rho/sigma^2 E[1/Y] (E[1/Y] needs rho > 2)",
                     sp.gammasimp(mean_sq), rho / ((rho - 2) * sigma**2)),
            identity("Var[psi^2] (E[1/Y^2] needs rho > 4)",
                     sp.gammasimp(var_sq), 2 * rho**2 / ((rho - 2) ** 2 * (rho - 4) * sigma**4)),
            identity("Var[psi] = E[psi^2] - E[psi]^2 (E[1/sqrt(Y)] needs rho > 1)",
                     var, exact_variance_psi(rho, sigma)),
            identity("delta method: Var[psi] ~ Var[psi^2] / (4 E[psi^2])",
                     sp.gammasimp(var_sq / (4 * mean_sq)), first_order),
        ],
    )


def claim_ratio_expansion() -> Claim:
    """The first-order variance over the exact one, expanded for large rho."""
    log_gamma_ratio = sp.series(
        sp.loggamma((1 / _w - 1) / 2) - sp.loggamma(1 / _w / 2), _w, 0, 5
    ).removeO()
    exact = (_w / (1 - 2 * _w) - sp.exp(2 * log_gamma_ratio) / 2) / _w  # sigma = 1
    approx = F.variance_psi_first_order(1 / _w, 1)
    ratio_series = sp.series(approx / exact, _w, 0, 3).removeO()
    in_rho = sp.expand(ratio_series.subs(_w, 1 / rho))
    leading = ratio_series.coeff(_w, 0)

    def remainder_is_third_order() -> bool:
        """At rho = 50, 500, 5000 the series misses the mpmath ratio by O(rho^-3)."""
        ctx = mpmath.MPContext()
        ctx.prec = _CHECK_BITS
        scaled = []
        for value in (50, 500, 5000):
            r = ctx.mpf(value)
            exact_v = r * (1 / (r - 2) - (ctx.gamma((r - 1) / 2) / ctx.gamma(r / 2)) ** 2 / 2)
            approx_v = r / (2 * (r - 2) * (r - 4))
            predicted = sp.lambdify(_w, ratio_series, modules=[ctx])(1 / r)
            scaled.append(abs(approx_v / exact_v - predicted) * r**3)
        # an O(rho^-3) remainder keeps rho^3 * |remainder| from growing with rho
        return bool(scaled[2] < 2 * scaled[0] and scaled[1] < 2 * scaled[0])

    return claim(
        "psi-variance-ratio",
        "How good the first-order variance is",
        f"Var_approx[psi] / Var[psi] = {sp.sstr(in_rho)} + O(rho^-3): the approximation "
        "overstates the variance for small rho and the ratio tends to 1 as rho -> oo.",
        rf"\frac{{\operatorname{{Var}}_1[\psi]}}{{\operatorname{{Var}}[\psi]}} = "
        rf"{sp.latex(in_rho)} + O(\rho^{{-3}})",
        [
            identity("the ratio tends to 1: the leading term of its series in w = 1/rho",
                     leading, sp.Integer(1)),
            positive("the first correction is positive: the approximation overstates",
                     ratio_series.coeff(_w, 1)),
            numeric("the series agrees with Gamma functions evaluated by mpmath, to O(rho^-3)",
                    r"\rho^3\left|\text{ratio} - \text{series}\right| \text{ bounded}",
                    remainder_is_third_order, _CHECK_BITS),
        ],
    )


def claim_rectifier() -> Claim:
    r2 = F.r_t_squared(rho, rho_inf)
    var_ratio = F.variance_psi_first_order(rho_inf, sigma) / F.variance_psi_first_order(rho, sigma)
    inside = {rho: 4 + _s, rho_inf: 4 + _s + _q}  # 4 < rho_t < rho_inf
    return claim(
        "rectifier",
        "The rectification term r_t",
        "r_t = sqrt(Var_approx[psi(rho_inf)] / Var_approx[psi(rho_t)]) = "
        "sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t)); it increases with "
        "rho_t, lies in (0, 1) for 4 < rho_t < rho_inf, and tends to 1 as rho_t -> rho_inf.",
        r"r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}",
        [
            identity("the ratio of first-order variances", var_ratio, r2),
            positive("d r_t^2 / d rho_t > 0 for rho_t = 4 + s > 4",
                     sp.diff(r2, rho).subs(inside)),
            positive("r_t^2 > 0 inside (4, rho_inf)", r2.subs(inside)),
            positive("1 - r_t^2 > 0 inside (4, rho_inf)", (1 - r2).subs(inside)),
            limit_is("r_t -> 1 as rho_t -> rho_inf (and rho_t -> rho_inf as t -> oo)",
                     r2, rho, rho_inf, sp.Integer(1)),
        ],
    )


def claim_wrong_statements() -> Claim:
    r2 = F.r_t_squared(rho, rho_inf)
    wrong = F.r_t_squared_wrong(rho, rho_inf)
    below_four = {rho: 4 - 2 / (1 + _s)}  # 2 < rho_t < 4
    wrong_limit = wrong.subs(rho, rho_inf)
    return claim(
        "false-statements",
        "Two popular statements are false",
        "(a) 'if rho_t <= 5 then r_t = 1 and take the Adam step': for 2 < rho_t < 4 r_t^2 < 0, "
        "so no rectified or Adam step is justified there (the paper's else branch is "
        "theta - alpha m_hat, with threshold 4), and r_t jumps below 1 at rho_t = 5 for every "
        "rho_inf > 5, so r_t = 1 below the threshold is not a continuation. (b) r_t = "
        "sqrt((rho_t-4)(rho_inf-4)/((rho_inf-2) rho_t)) tends to (rho_inf-4)^2/((rho_inf-2) "
        "rho_inf) < 1, not 1.",
        r"r_t^2\big|_{2<\rho_t<4} < 0,\qquad \lim_{\rho_t\to\rho_\infty}"
        r"\frac{(\rho_t-4)(\rho_\infty-4)}{(\rho_\infty-2)\rho_t} \ne 1",
        [
            positive("-r_t^2 > 0 for 2 < rho_t < 4 (rho_inf = 4 + q): r_t is imaginary there",
                     (-r2).subs(below_four).subs(rho_inf, 4 + _q)),
            positive("the first-order variance of psi is negative for 2 < rho_t < 4",
                     -F.variance_psi_first_order(rho, sigma).subs(below_four)),
            solution_set("r_t at rho_t = 5 is below 1 for every rho_inf > 5",
                         r2.subs(rho, 5) < 1, rho_inf, sp.Interval.open(5, sp.oo),
                         sp.Interval.open(5, sp.oo)),
            identity("the wrong form's limit as rho_t -> rho_inf",
                     sp.limit(wrong, rho, rho_inf), (rho_inf - 4) ** 2 / ((rho_inf - 2) * rho_inf)),
            solution_set("that limit equals 1 for no rho_inf > 4",
                         sp.Eq(wrong_limit, 1), rho_inf, sp.S.EmptySet, sp.Interval.open(4, sp.oo)),
            positive("1 minus that limit is positive for rho_inf = 4 + q",
                     (1 - wrong_limit).subs(rho_inf, 4 + _q)),
        ],
    )


def variance_claims() -> list[Claim]:
    """Claims 3, 4 and 6."""
    return [claim_moments(), claim_ratio_expansion(), claim_rectifier(), claim_wrong_statements()]
