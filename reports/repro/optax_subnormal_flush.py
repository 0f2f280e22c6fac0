"""optax.radam on the CPU (XLA) flushes subnormal float32 values to zero.

A float32 gradient of 1e-40 is subnormal (below 2^-126 = 1.18e-38) but representable, and
so is the exact first moment after one step, (1 - b1) * g = 1e-41 (rounded to the nearest
float32 subnormal). XLA's CPU backend runs with denormals flushed to zero, so optax's
first moment is 0: the gradient is lost. torch on the same machine keeps it. The exact
value is computed with mpmath and rounded to float32 (subnormals included) with numpy.

Run: python optax_subnormal_flush.py  (needs jax, optax, mpmath, numpy; exit status 1 =
deviation)
"""

import sys

import jax.numpy as jnp
import mpmath
import numpy as np
import optax

BETA1, GRAD = 0.9, 1e-40


def main() -> int:
    mpmath.mp.dps = 50
    grad32 = np.float32(GRAD)  # the subnormal float32 nearest to 1e-40
    exact = (1 - mpmath.mpf(BETA1)) * mpmath.mpf(float(grad32))
    exact32 = np.float32(float(exact))  # float32 rounding of the exact value (a subnormal)
    optimizer = optax.radam(1e-3, b1=BETA1)
    params = jnp.zeros(1, dtype=jnp.float32)
    state = optimizer.init(params)
    _, state = optimizer.update(jnp.full(1, grad32, dtype=jnp.float32), state, params)
    mu = next(s for s in state if hasattr(s, "mu")).mu
    observed = float(mu[0])
    deviates = observed != float(exact32)
    print(f"optax {optax.__version__}: gradient {float(grad32)!r} (float32 subnormal)")
    print(f"first moment after step 1: exact {mpmath.nstr(exact, 17)} (float32: "
          f"{float(exact32)!r}), observed {observed!r}" + ("  <-- DEVIATION" if deviates else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: subnormals are kept")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
