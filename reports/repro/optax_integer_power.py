"""optax.radam in eager mode evaluates b2^t by repeated multiplication: hundreds of ulps in x64.

scale_by_radam computes `b2t = b2**count_inc` (and the bias corrections `1 - decay**count`)
with the step count an int32 array. Run eagerly (the update function called without
jax.jit), the count is a concrete 0-d integer, and jnp.power takes its integer-exponent
path, repeated multiplication, whose rounding errors grow with t: in float64 (x64) b2^t is
off by hundreds of ulps for t in the thousands. Under jax.jit the count is traced and the
same expression is a pow within 1 ulp. Near b2 = 1, 1 - b2^t cancels, so each ulp of b2^t
is a large relative error of the bias correction and of rho_t, and the eager step moves by
more than a binary64 schedule with a pow within 1 ulp allows.

Run: python optax_integer_power.py  (needs jax, optax and mpmath; exit status 1 = deviation)
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

B2 = 0.9999999
STEPS = (18, 250, 1000, 1995)
ALLOWED_ULPS = 1.0  # what a pow within 1 ulp gives


def ulps_off(observed: float, exact: mpmath.mpf) -> float:
    return float(abs(mpmath.mpf(observed) - exact) / np.spacing(float(exact)))


def main() -> int:
    mpmath.mp.dps = 50
    print(f"jax {jax.__version__}, optax {optax.__version__}: b2 = {B2}")
    traced = jax.jit(lambda count: jnp.float64(B2) ** count)
    deviates = False
    for t in STEPS:
        exact = mpmath.mpf(B2) ** t
        count = jnp.asarray(t, dtype=jnp.int32)  # optax's step count
        eager = float(jnp.float64(B2) ** count)
        jitted = float(traced(count))
        off, off_jit = ulps_off(eager, exact), ulps_off(jitted, exact)
        wrong = off > ALLOWED_ULPS
        deviates |= wrong
        bc2 = 1 - exact
        relative = float(abs((1 - mpmath.mpf(eager)) - bc2) / bc2)
        print(f"t = {t}: b2^t exact {mpmath.nstr(exact, 20)}; eager {eager!r} ({off:.1f} ulps "
              f"off, 1 - b2^t off by {relative:.1e} relative), under jit {jitted!r} "
              f"({off_jit:.2f} ulps off)" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: b2^t is within 1 ulp")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
