"""Keras 3 on the torch backend decays float64 parameters by a factor formed in float32.

keras/src/backend/torch/optimizers/torch_optimizer.py overrides _apply_weight_decay with
torch._foreach_mul_(variables, 1 - self.weight_decay * self._get_current_learning_rate()):
the learning rate is Keras' float32 variable, so 1 - wd lr is formed and rounded in float32
and a float64 parameter is multiplied by that binary32 number. Keras' own implementation
(keras/src/optimizers/base_optimizer.py, which the jax backend runs) casts lr and wd to the
variable's dtype and forms variable - variable * wd * lr in float64. With wd lr = 0.001 the
factor 0.999 becomes 0.99900001287..., an error of 1.3e-8 relative: some 6e7 float64 ulps of
theta on every step that decays it, where the step itself rounds within a few.

Run: python keras_torch_float64_decay_factor_in_float32.py  (needs keras and torch; exit
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
    lr, wd = 1e-3, 1.0
    variable = keras.Variable(np.array([-1.0]), dtype="float64")
    optimizer = keras.optimizers.AdamW(learning_rate=lr, weight_decay=wd)
    optimizer.build([variable])
    optimizer.apply_gradients([(torch.zeros(1, dtype=torch.float64), variable)])
    observed = float(np.asarray(keras.ops.convert_to_numpy(variable))[0])
    # exact: theta (1 - wd lr) with lr held as Keras holds it (a float32 variable), the zero
    # gradient adding nothing; in exact rational arithmetic, then rounded once
    lr_held = Fraction(float(np.float32(lr)))
    exact = Fraction(-1) * (1 - Fraction(wd) * lr_held)
    error = abs(Fraction(observed) - exact)
    ulp = np.spacing(abs(float(exact)))
    print(f"theta after one step with a zero gradient: exact {float(exact)!r} "
          f"(-(1 - wd lr), lr as its float32 variable holds it), observed {observed!r}: "
          f"{float(error / Fraction(ulp)):.3g} float64 ulps")
    if error > 4 * Fraction(ulp):
        print(f"  the observed factor is {-observed!r} = float32(1 - wd lr) = "
              f"{float(np.float32(1 - wd * float(lr_held)))!r}  <-- DEVIATION")
        print("DEVIATION reproduced")
        return 1
    print("no deviation: the decay factor is formed in the parameter's dtype")
    return 0


if __name__ == "__main__":
    sys.exit(main())
