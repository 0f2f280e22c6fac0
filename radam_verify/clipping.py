"""Global gradient-norm clipping before LAMB's step (``clip_norm``, timm's ``max_grad_norm``).

Before its step the implementation divides every gradient of every tensor of every group by
c = max(1, ||G|| / clip_norm), with ||G|| the Euclidean norm of all of them together. That
couples tensors the rest of the oracle judges one at a time, so it is handled here, per step
and once for the whole scenario: the exact factor (from the gradients as given), each
tensor's clipped gradient in binary64 (the input the per-tensor references and bounds then
read), and the bound on how far the implementation's clipped gradient may be from the
exact g / c, which the bound of the step adds as an error of its gradient
(``derivations/error-model.md``, section 2, "Gradient clipping").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radam_verify import dd
from radam_verify.errors import OutOfDomainError
from radam_verify.floats import FLOAT64, Array, Format
from radam_verify.trust import norm_error

#: the gradients of one step: per group, per tensor (None: no gradient on this step)
StepGrads = Sequence[Sequence[Array | None]]


@dataclass(frozen=True)
class ClippedStep:
    """One step's gradients after clipping, and their bounds."""

    factor: float  # c = max(1, ||G|| / clip_norm), rounded to binary64 (for reports)
    grads: list[list[Array | None]]  # g / c in binary64, per group and tensor
    errors: list[list[Array | None]]  # per element: the implementation's g~ / c~ from g / c


def clip_step(grads: StepGrads, clip_norm: float,
              formats: Sequence[Sequence[Format]]) -> ClippedStep:
    """``grads`` clipped at ``clip_norm`` as an implementation does it, each tensor's
    gradient and norm in its own format (``formats``, per group and tensor), the norm of the
    norms and the factor in the least precise of them; each tensor's bound covers the norm
    however it is formed (per tensor then the norm of the norms, as timm; or one sum over
    all elements), the factor's division and the gradient's (by c~, or times 1 / c~), and
    the binary64 rounding of g / c that the reference reads."""
    present = [(np.asarray(g, dtype=np.float64).reshape(-1), formats[i][j])
               for i, row in enumerate(grads) for j, g in enumerate(row) if g is not None]
    if not present or not math.isfinite(clip_norm):
        return ClippedStep(1.0, [list(row) for row in grads],
                           [[None if g is None else np.zeros(np.size(g)) for g in row]
                            for row in grads])
    coarse = max((fmt for _, fmt in present), key=lambda fmt: (fmt.u, float(np.max(fmt.eta))))
    whole = np.concatenate([g for g, _ in present])
    norm_dd = dd.norm(dd.DD(whole, np.zeros_like(whole)))
    norm = float(norm_dd.hi) + float(norm_dd.lo)
    if not math.isfinite(norm) or whole.size * dd.U_DD >= 0.25:
        raise OutOfDomainError(f"the gradients' global norm is not finite in binary64 "
                               f"({whole.size} elements): clipping cannot be judged")
    # the double-double norm: within (n + 3) U_DD relative (dd.norm), and its two parts
    own = (whole.size + 4) * dd.U_DD * norm
    norms = np.asarray([float(np.linalg.norm(g)) for g, _ in present])
    inner = np.asarray([norm_error(np.abs(g), np.zeros_like(g), float(np.linalg.norm(g)), fmt)
                        for g, fmt in present])
    e_norm = max(norm_error(np.abs(whole), np.zeros_like(whole), norm, coarse),
                 norm_error(norms, inner, norm, coarse)) + own
    if not math.isfinite(e_norm):
        raise OutOfDomainError("the gradients' global norm overflows the format: clipping "
                               "cannot be judged")
    factor = max(1.0, norm / clip_norm)
    u, eta = coarse.u, float(np.max(coarse.eta))
    # clip_norm rounded to the format and the quotient; max(1, .) is 1-Lipschitz and exact
    e_factor = e_norm / clip_norm + 2 * u * (norm + e_norm) / clip_norm + eta
    if norm / clip_norm + e_factor < 1:  # c~ = 1 exactly: the gradients are not touched
        return clip_step(grads, math.inf, formats)
    if not e_factor < factor:
        raise OutOfDomainError(f"the clipping factor {factor:.6g} is within its error "
                               f"{e_factor:.3g} of zero: clipping cannot be judged")
    low = factor - e_factor
    clipped: list[list[Array | None]] = []
    errors: list[list[Array | None]] = []
    for i, row in enumerate(grads):
        clipped.append([])
        errors.append([])
        for j, g in enumerate(row):
            if g is None:
                clipped[-1].append(None)
                errors[-1].append(None)
                continue
            fmt = formats[i][j]
            g64 = np.asarray(g, dtype=np.float64)
            scaled = g64 / factor  # the reference's input: binary64's rounding of g / c
            g_abs = np.abs(g64)
            # |g / c~ - g / c| <= |g| E_c / (c (c - E_c)); g / c~ or g (1 / c~) in the
            # tensor's format (1 / c~ in the factor's): two roundings
            error = (g_abs * (e_factor / (factor * low)) + (fmt.u + u) * g_abs / low
                     + 2 * float(np.max(fmt.eta)) + eta
                     # binary64: the factor's own error (the norm's; hi + lo and the
                     # quotient rounded, 2 u relative) and the rounding of g / c
                     + g_abs * (own / clip_norm / (factor * low)) + 4 * FLOAT64.u * np.abs(scaled)
                     + FLOAT64.smallest_subnormal)
            clipped[-1].append(scaled)
            errors[-1].append(error)
    return ClippedStep(factor, clipped, errors)
