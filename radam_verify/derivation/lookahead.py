"""Lookahead's claim: after n synchronisations the slow weights are an exponential moving
average of the fast weights at the sync points, in closed form.

Lookahead (Zhang et al. 2019, Algorithm 1) sets phi_{n+1} = phi_n + alpha (theta_{n+1} -
phi_n) at each sync, theta_{n+1} being the fast weights after k inner steps. By induction,
phi_n = (1 - alpha)^n phi_0 + alpha sum_{j=1}^n (1 - alpha)^(n-j) theta_j, and the weights
sum to 1.
"""

from __future__ import annotations

import sympy as sp

from radam_verify.derivation.claims import Claim, claim, identity

ALGORITHM = "Lookahead"


def claim_closed_form() -> Claim:
    alpha = sp.Symbol("alpha", positive=True)
    n = sp.Symbol("n", integer=True, positive=True)
    j = sp.Symbol("j", integer=True, positive=True)
    phi0, sum_n, theta_next = sp.symbols("phi_0 S_n theta_{n+1}", real=True)
    closed_n = (1 - alpha) ** n * phi0 + alpha * sum_n  # S_n = sum_{j<=n} (1-a)^(n-j) theta_j
    sum_next = (1 - alpha) * sum_n + theta_next  # S_{n+1}, from the two steps below
    closed_next = (1 - alpha) ** (n + 1) * phi0 + alpha * sum_next
    weights = (1 - alpha) ** n + alpha * sp.Sum((1 - alpha) ** (n - j), (j, 1, n)).doit()
    return claim(
        "lookahead-closed-form",
        "Lookahead's slow weights are an exponential moving average of the sync points",
        "With phi_{n+1} = phi_n + alpha (theta_{n+1} - phi_n), the slow weights after n syncs "
        "are phi_n = (1 - alpha)^n phi_0 + alpha sum_{j=1}^n (1 - alpha)^(n-j) theta_j, where "
        "theta_j are the fast weights at the j-th sync; the weights of phi_0 and the theta_j "
        "sum to 1.",
        r"\phi_n = (1-\alpha)^n\phi_0 + \alpha\sum_{j=1}^{n}(1-\alpha)^{n-j}\theta_j",
        [identity("each term of S_{n+1} but the last is (1 - alpha) times that of S_n",
                  (1 - alpha) ** (n + 1 - j), (1 - alpha) * (1 - alpha) ** (n - j)),
         identity("the last term of S_{n+1} (j = n + 1) is theta_{n+1}",
                  (1 - alpha) ** (n + 1 - (n + 1)) * theta_next, theta_next),
         identity("the closed form at n + 1 is one sync from the closed form at n",
                  closed_next, closed_n + alpha * (theta_next - closed_n)),
         identity("the closed form at n = 0 is phi_0", closed_n.subs({n: 0, sum_n: 0}), phi0),
         identity("the weights sum to 1", weights, sp.Integer(1))],
        algorithm=ALGORITHM,
    )


def lookahead_claims() -> list[Claim]:
    return [claim_closed_form()]
