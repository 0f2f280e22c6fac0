"""LAMB's claim: with weight decay 0, each layer's step has norm exactly lr phi(||theta||).

LAMB (You et al. 2020, Algorithm 2) scales Adam's direction u of a layer by the trust ratio
phi(||theta||) / ||u||: the step is lr phi(||theta||) u / ||u||, whose norm does not depend
on u. Checked for a layer of symbolic size-4 vectors (the identity holds componentwise for
any size: ||a u|| = |a| ||u||).
"""

from __future__ import annotations

import sympy as sp

from radam_verify.derivation.claims import Claim, claim, identity

ALGORITHM = "LAMB"
LAYER = 4


def _norm(vector: sp.Matrix) -> sp.Expr:
    return sp.sqrt(sum(x**2 for x in vector))


def claim_step_norm() -> Claim:
    lr, phi, a = sp.symbols("lr phi a", positive=True)
    u = sp.Matrix(sp.symbols(f"u0:{LAYER}", real=True))
    step = lr * phi / _norm(u) * u
    return claim(
        "lamb-step-norm",
        "With weight decay 0, LAMB's step of a layer has norm lr phi(||theta||)",
        "The step is lr phi(||theta||) u / ||u|| for the layer's Adam direction u (u != 0), so "
        "its norm is lr phi(||theta||) whatever u is: the trust ratio fixes each layer's step "
        "length and Adam fixes only its direction.",
        r"\left\|\mathrm{lr}\,\frac{\phi(\|\theta\|)}{\|u\|}\,u\right\| = "
        r"\mathrm{lr}\,\phi(\|\theta\|)",
        [identity("||a u|| = a ||u|| for a > 0", _norm(a * u), a * _norm(u)),
         identity(f"the norm of the step (a layer of {LAYER} elements)", _norm(step), lr * phi)],
        algorithm=ALGORITHM,
    )


def lamb_claims() -> list[Claim]:
    return [claim_step_norm()]
