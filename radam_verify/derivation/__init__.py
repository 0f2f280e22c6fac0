"""SymPy derivation of RAdam's constants, every step machine-checked.

``all_claims()`` builds and checks every claim; each :class:`Claim` carries its
statement, LaTeX, the steps SymPy took and how each was verified.
"""

from __future__ import annotations

from radam_verify.derivation.claims import Claim, Step
from radam_verify.derivation.sma import sma_claims
from radam_verify.derivation.threshold import threshold_claims
from radam_verify.derivation.variance import variance_claims

__all__ = ["Claim", "Step", "all_claims"]


def all_claims() -> list[Claim]:
    """Every claim of the derivation, checked now (takes a few seconds)."""
    return [*sma_claims(), *variance_claims(), *threshold_claims()]
