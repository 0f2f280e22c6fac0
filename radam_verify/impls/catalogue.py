"""The whole defect catalogue: RAdam's defects (:mod:`~radam_verify.impls.defects`) and
Adam's (:mod:`~radam_verify.impls.adam_defects`), each verified against its own reading."""

from __future__ import annotations

from radam_verify.impls.adam_defects import ADAM_CATALOGUE
from radam_verify.impls.defects import CATALOGUE as RADAM_CATALOGUE
from radam_verify.impls.defects import Defect

CATALOGUE: dict[str, type[Defect]] = {**RADAM_CATALOGUE, **ADAM_CATALOGUE}

__all__ = ["ADAM_CATALOGUE", "CATALOGUE", "RADAM_CATALOGUE"]
