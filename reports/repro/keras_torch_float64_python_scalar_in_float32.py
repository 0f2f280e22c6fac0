"""Keras 3's Lamb on the torch backend updates float64 moments with 1 - beta in float32.

keras/src/optimizers/lamb.py forms v += (g^2 - v) * (1 - beta_2) as
ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2), the second factor a
Python float. The jax backend keeps a Python float weakly typed, so a float64 variable is
multiplied by the binary64 value; the torch backend converts it to a tensor of Keras'
floatx, float32, first: 1 - 0.999 = 0.0010000000000000009 becomes 0.0010000000474974513,
an error of 4.7e-8 relative in m and v on every step, some 10^8 float64 ulps. (Keras' Adam
and AdamW on the torch backend have their own foreach kernels, which take the Python float
as it is.)

Run: python keras_torch_float64_python_scalar_in_float32.py  (needs keras and torch; exit
status 1 = deviation)
"""

import os
import sys
from fractions import Fraction

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported: the backend it loads

import keras
import numpy as np
import torch


def main() -> int:
    print(f"keras {keras.__version__}, torch {torch.__version__}, backend "
          f"{keras.backend.backend()}")
    beta_2 = 0.999
    variable = keras.Variable(np.array([1.0]), dtype="float64")
    optimizer = keras.optimizers.Lamb(learning_rate=1e-3, beta_2=beta_2)
    optimizer.build([variable])
    optimizer.apply_gradients([(torch.ones(1, dtype=torch.float64), variable)])
    v = float(np.asarray(keras.ops.convert_to_numpy(optimizer._velocities[0]))[0])
    # exact: v_1 = (1 - beta_2) g^2 with g = 1, beta_2 the binary64 number given
    exact = 1 - Fraction(beta_2)
    error = abs(Fraction(v) - exact)
    ulp = np.spacing(float(exact))
    print(f"v after one step with g = 1: exact {float(exact)!r} (1 - beta_2), observed {v!r}: "
          f"{float(error / Fraction(ulp)):.3g} float64 ulps")
    if error > 4 * Fraction(ulp):
        print(f"  the observed v is float32(1 - beta_2) = {float(np.float32(1 - beta_2))!r}  "
              "<-- DEVIATION")
        print("DEVIATION reproduced")
        return 1
    print("no deviation: 1 - beta_2 is taken in the variable's dtype")
    return 0


if __name__ == "__main__":
    sys.exit(main())
