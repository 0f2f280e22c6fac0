"""The whole defect catalogue: RAdam's defects (:mod:`~radam_verify.impls.defects`), Adam's
and AMSGrad's (:mod:`~radam_verify.impls.adam_defects`), LAMB's
(:mod:`~radam_verify.impls.lamb_defects`), Lookahead's
(:mod:`~radam_verify.impls.lookahead_defects`) and running powers'
(:mod:`~radam_verify.impls.powers_defects`), each verified against its own reading."""

from __future__ import annotations

from radam_verify.impls.adam_defects import ADAM_CATALOGUE
from radam_verify.impls.defects import CATALOGUE as RADAM_CATALOGUE
from radam_verify.impls.defects import Defect
from radam_verify.impls.lamb_defects import LAMB_CATALOGUE
from radam_verify.impls.lookahead_defects import LOOKAHEAD_CATALOGUE
from radam_verify.impls.powers_defects import POWERS_CATALOGUE

CATALOGUE: dict[str, type[Defect]] = {**RADAM_CATALOGUE, **ADAM_CATALOGUE,
                                      **LAMB_CATALOGUE, **LOOKAHEAD_CATALOGUE,
                                      **POWERS_CATALOGUE}

__all__ = ["ADAM_CATALOGUE", "CATALOGUE", "LAMB_CATALOGUE", "LOOKAHEAD_CATALOGUE",
           "POWERS_CATALOGUE", "RADAM_CATALOGUE"]
