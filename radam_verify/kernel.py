"""The vectorised RAdam element update over numpy arrays, in any float dtype.

Used twice: by the fast reference (float64, exact coefficients) and by the project's
own float32 reimplementation (textbook coefficients). Scalars are rounded to the
array's dtype once, as a framework does with a Python scalar.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radam_verify.coefficients import Coefficients
from radam_verify.conventions import Convention
from radam_verify.hyper import Hyper

FloatArray = npt.NDArray[np.floating]


def apply_step(
    theta: FloatArray,
    m: FloatArray,
    v: FloatArray,
    grad: FloatArray,
    c: Coefficients,
    hyper: Hyper,
    convention: Convention,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """New (theta, m, v) after one step with coefficients ``c``; the inputs are not changed."""
    dtype = theta.dtype.type
    with np.errstate(all="ignore"):
        g = -grad if hyper.maximize else grad.copy()
        if convention.weight_decay == "l2" and hyper.weight_decay != 0.0:
            g = g + dtype(hyper.weight_decay) * theta
        m = dtype(hyper.beta1) * m + dtype(1.0 - hyper.beta1) * g
        v = dtype(hyper.beta2) * v + dtype(1.0 - hyper.beta2) * (g * g)
        theta = theta if c.decay is None else dtype(c.decay) * theta
        if c.rectified:
            root = np.sqrt(v * dtype(c.inv_bc2)) if convention.eps == "hat" else np.sqrt(v)
            theta = theta - dtype(c.coeff) * m / (root + dtype(hyper.eps))
        elif c.updates:
            theta = theta - dtype(c.coeff) * m
    return theta.astype(dtype), m.astype(dtype), v.astype(dtype)
