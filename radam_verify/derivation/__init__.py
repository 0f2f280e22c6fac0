"""SymPy derivation of the constants and identities of RAdam's family (RAdam, Adam, AMSGrad,
LAMB, Lookahead), every step machine-checked; a module per algorithm.

``all_claims()`` builds and checks every claim; each :class:`Claim` carries its
statement, LaTeX, the steps SymPy took and how each was verified.
"""

from __future__ import annotations

from radam_verify.derivation.adam import adam_claims
from radam_verify.derivation.amsgrad import amsgrad_claims
from radam_verify.derivation.claims import Claim, Step
from radam_verify.derivation.lamb import lamb_claims
from radam_verify.derivation.lookahead import lookahead_claims
from radam_verify.derivation.powers import powers_claims
from radam_verify.derivation.sma import sma_claims
from radam_verify.derivation.threshold import threshold_claims
from radam_verify.derivation.variance import variance_claims

__all__ = ["Claim", "Step", "all_claims"]


def all_claims() -> list[Claim]:
    """Every claim of the derivation, checked now (takes a few seconds), RAdam's first and
    then each algorithm's in turn (a chapter each)."""
    return [*sma_claims(), *variance_claims(), *threshold_claims(), *powers_claims(),
            *adam_claims(),
            *amsgrad_claims(), *lamb_claims(), *lookahead_claims()]
