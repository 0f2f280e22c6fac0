"""optax.radam on the CPU (XLA) flushes subnormal values to zero, in float32 and in x64.

A float32 gradient of 1e-40 is subnormal (below 2^-126 = 1.18e-38) but representable, and
so is the exact first moment after one step, (1 - b1) * g = 1e-41 (rounded to the nearest
float32 subnormal). XLA's CPU backend runs with denormals flushed to zero, so optax's
first moment is 0: the gradient is lost. torch on the same machine keeps it. The same
happens in float64 with x64 for a gradient of 1e-320. The exact value is computed with
mpmath and rounded to the dtype (subnormals included) with numpy.

Run: python optax_subnormal_flush.py  (needs jax, optax, mpmath, numpy; exit status 1 =
deviation)
"""

import sys

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import optax

BETA1 = 0.9
CASES = (("float32", np.float32, jnp.float32, 1e-40), ("float64 (x64)", np.float64, jnp.float64, 1e-320))


def first_moment(dtype: object, grad: float) -> float:
    optimizer = optax.radam(1e-3, b1=BETA1)
    params = jnp.zeros(1, dtype=dtype)
    state = optimizer.init(params)
    _, state = optimizer.update(jnp.full(1, grad, dtype=dtype), state, params)
    mu = next(s for s in state if hasattr(s, "mu")).mu
    return float(mu[0])


def main() -> int:
    mpmath.mp.dps = 50
    print(f"optax {optax.__version__}, jax {jax.__version__}: first moment after one step")
    deviates = False
    for name, np_type, jnp_type, value in CASES:
        if np_type is np.float64:
            jax.config.update("jax_enable_x64", True)
        grad = np_type(value)  # the nearest subnormal of the dtype
        exact = (1 - mpmath.mpf(BETA1)) * mpmath.mpf(float(grad))
        rounded = float(np_type(float(exact)))  # the dtype's rounding of the exact value
        observed = first_moment(jnp_type, float(grad))
        wrong = observed != rounded
        deviates |= wrong
        print(f"{name}: gradient {float(grad)!r} (subnormal): exact {mpmath.nstr(exact, 17)} "
              f"(rounded: {rounded!r}), observed {observed!r}" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: subnormals are kept")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
