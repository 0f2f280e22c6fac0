"""Running powers: bias corrections formed from the product of the betas each step used.

A reading with ``powers=running`` (PaddlePaddle keeps b1^t and b2^t as accumulators, each
multiplied by the step's beta) divides by 1 - P1 and 1 - P2, P1 and P2 the products of the
betas of every step the tensor took, and forms rho_t = rho_inf - 2 t P2 / (1 - P2) (its rho
accumulator's recursion keeps that term exactly: derivation ``running-rho``). Where every
step used the betas of the current one, P1 = b1^t and P2 = b2^t: the schedule is the
count's, certified as ever (``None`` below); only after a schedule changed a beta are the
products carried, at ``precision_bits + 64`` bits (each product rounded there, a relative
error far below the reference's own).
"""

from __future__ import annotations

from collections.abc import Sequence

import mpmath

from radam_verify.hyper import Hyper
from radam_verify.precision import DEFAULT_PRECISION_BITS, HyperRounding, as_binary, real

#: the running products (P1, P2) standing for b1^t and b2^t
Powers = tuple[mpmath.mpf, mpmath.mpf]


def running_powers(start_t: int, hypers: Sequence[Hyper], stepped: Sequence[bool], *,
                   float32_scalars: bool = False,
                   precision_bits: int = DEFAULT_PRECISION_BITS) -> list[Powers | None]:
    """Per step of a trajectory from a state at ``start_t`` (whose steps all used the first
    step's betas), the products (P1, P2) after that step, over the steps the tensor took
    (``stepped``), where they differ from the step's own betas' powers; None where every step
    so far used the step's own betas. Betas are taken as the schedule takes them: rounded to
    binary32 where the reading forms its scalars in binary32."""
    rounding: HyperRounding = "float32" if float32_scalars else "float64"

    def betas(hyper: Hyper) -> tuple[float, float]:
        return as_binary(hyper.beta1, rounding), as_binary(hyper.beta2, rounding)

    found: list[Powers | None] = []
    if not hypers:
        return found
    first = betas(hypers[0])
    used = {first} if start_t else set()
    with real.workprec(precision_bits + 64):
        p1, p2 = real.mpf(first[0]) ** start_t, real.mpf(first[1]) ** start_t
        for hyper, steps in zip(hypers, stepped, strict=True):
            b1, b2 = betas(hyper)
            if steps:
                p1, p2 = p1 * b1, p2 * b2
                used.add((b1, b2))
            found.append(None if used <= {(b1, b2)} else (+p1, +p2))
    return found
