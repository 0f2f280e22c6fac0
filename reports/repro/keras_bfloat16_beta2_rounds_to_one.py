"""Keras 3's Adam, AdamW and Lamb do not step bfloat16 variables at the default beta_2.

Their ``update_step`` casts the step count, beta_1 and beta_2 to the variable's dtype and
forms the bias corrections there (keras/src/optimizers/adam.py):

    local_step = ops.cast(self.iterations + 1, variable.dtype)
    beta_2_power = ops.power(ops.cast(self.beta_2, variable.dtype), local_step)
    alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)

bfloat16 keeps 8 significant bits, so every beta_2 above 1 - 2^-9 (0.998046875), the
default 0.999 included, becomes exactly 1: beta_2^t = 1, 1 - beta_2^t = 0 and alpha = 0, and
no step ever changes a parameter, whatever the gradient and the learning rate. The exact
step moves each element here by about lr per step. Below that, bfloat16's beta_2 changes
1 - beta_2 by up to 2^-9 / (1 - beta_2) relatively: with beta_2 = 0.99, held as 0.98828125,
Adam's parameters move, but several bfloat16 ulps away from the exact step, and within an
ulp or two of the exact step with alpha formed from bfloat16's lr, beta_1 and beta_2 (the
moments' own 1 - beta stay Python floats).

Lamb (keras/src/optimizers/lamb.py) divides v itself by 1 - beta_2^t = 0: v_hat is inf where
v > 0, so the update m_hat / sqrt(v_hat) is 0 and theta does not move, and 0 / 0 = NaN where
v = 0 (an element whose gradients were all zero, the last one here), which the step writes
into theta where the exact step leaves it as it is.

Run: KERAS_BACKEND=jax python keras_bfloat16_beta2_rounds_to_one.py  (or
KERAS_BACKEND=torch; needs keras 3 with that backend, numpy and mpmath; exit status 1 =
deviation)
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import mpmath
import numpy as np
from ml_dtypes import bfloat16

LR, BETA_1, EPS, STEPS = 0.1, 0.9, 1e-7, 3
THETA, GRAD = [1.0, -2.0, 0.5, 1.5], [0.25, -1.0, 2.0, 0.0]


def bf16(x: float) -> float:
    """x rounded to bfloat16 (through binary32, as the backends round a Python float)."""
    return float(np.float32(x).astype(bfloat16))


def exact(beta_2: float, rounded: bool = False) -> list[float]:
    """Adam's exact trajectory from THETA under the constant gradient GRAD (50 digits),
    each element rounded to bfloat16 at the end; ``rounded``: with alpha = lr sqrt(1 -
    beta_2^t) / (1 - beta_1^t) formed (exactly) from lr, beta_1 and beta_2 rounded to
    bfloat16, as Keras forms it."""
    mpmath.mp.dps = 50
    lr, b1, b2, eps = (mpmath.mpf(x) for x in (LR, BETA_1, beta_2, EPS))
    a_lr, a_b1, a_b2 = ((mpmath.mpf(bf16(x)) for x in (LR, BETA_1, beta_2)) if rounded
                        else (lr, b1, b2))
    out = []
    for theta0, g0 in zip(THETA, GRAD, strict=True):
        theta, g, m, v = mpmath.mpf(theta0), mpmath.mpf(g0), mpmath.mpf(0), mpmath.mpf(0)
        for t in range(1, STEPS + 1):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            alpha = a_lr * mpmath.sqrt(1 - a_b2**t) / (1 - a_b1**t)
            theta -= alpha * m / (mpmath.sqrt(v) + eps * mpmath.sqrt(1 - b2**t))
        out.append(bf16(float(theta)))
    return out


def ulps(a: list[float], b: list[float]) -> list[int]:
    """How many bfloat16 numbers apart the elements of a and b are."""
    def ordinal(x: float) -> int:
        bits = int(np.array([x], dtype=np.float32).astype(bfloat16).view(np.int16)[0])
        return bits if bits >= 0 else -(bits & 0x7FFF)
    return [abs(ordinal(x) - ordinal(y)) for x, y in zip(a, b, strict=True)]


def observed(cls: type, beta_2: float) -> list[float]:
    """The bfloat16 variable after STEPS steps of ``cls`` under GRAD."""
    variable = keras.Variable(np.array(THETA, dtype=np.float32), dtype="bfloat16")
    optimizer = cls(learning_rate=LR, beta_1=BETA_1, beta_2=beta_2, epsilon=EPS)
    grad = keras.ops.convert_to_tensor(np.array(GRAD, dtype=np.float32), dtype="bfloat16")
    for _ in range(STEPS):
        optimizer.apply_gradients([(grad, variable)])
    return [float(x) for x in keras.ops.convert_to_numpy(keras.ops.cast(variable.value,
                                                                         "float32"))]


def main() -> int:
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}: bfloat16 variable "
          f"theta = {THETA}, constant gradient {GRAD}, lr = {LR}, beta_1 = {BETA_1}, "
          f"epsilon = {EPS}, {STEPS} steps")
    deviates = False
    for beta_2 in (0.999, 0.99):
        held = bf16(beta_2)
        want = exact(beta_2)
        print(f"\nbeta_2 = {beta_2} (bfloat16 holds {held!r}; 1 - beta_2^t = "
              f"{1 - held ** STEPS!r} at t = {STEPS})")
        predicted = exact(beta_2, rounded=True)
        print(f"  exact Adam, rounded to bfloat16: {want}")
        print(f"  exact Adam with alpha from bfloat16's lr and betas: {predicted}")
        # Lamb's step is Adam's scaled per tensor by ||theta|| / ||update||: it moves
        # exactly where Adam's does
        for cls in (keras.optimizers.Adam, keras.optimizers.AdamW, keras.optimizers.Lamb):
            got = observed(cls, beta_2)
            frozen = [g for g, t, w in zip(got, THETA, want, strict=True) if w != t] == [
                t for t, w in zip(THETA, want, strict=True) if w != t]
            nan = any(g != g for g in got)
            deviates |= frozen or nan
            print(f"  {cls.__name__:6s} observed: {got}"
                  + ("  <-- DEVIATION: no element moved" if frozen else "")
                  + ("  <-- DEVIATION: NaN" if nan else ""))
            if cls is keras.optimizers.Adam and not frozen:
                print(f"         bfloat16 ulps from the exact step: {ulps(got, want)}, from "
                      f"the step with bfloat16 scalars: {ulps(got, predicted)}")
    print("\nDEVIATION reproduced" if deviates else
          "\nno deviation: the parameters move at the default beta_2")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
