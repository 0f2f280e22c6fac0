"""optax.radam evaluates b2^t as b2 ** count with an integer count: hundreds of ulps in x64.

scale_by_radam computes `b2t = b2**count_inc` and the bias corrections `1 - decay**count`
with the step count as an integer array. XLA evaluates a float raised to an integer power
by repeated multiplication, whose rounding errors grow with t: in float64 (x64) b2^t is
off by hundreds of ulps for t in the thousands, where a pow of a float exponent (and any
libm pow) is within 1 ulp. Near b2 = 1, 1 - b2^t cancels, so each ulp of b2^t is a large
relative error of the bias correction and of rho_t, and the step moves by more than a
binary64 schedule with a pow within 1 ulp allows.

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
STEPS = range(1, 2001)
ALLOWED_ULPS = 1.0  # what a pow within 1 ulp gives


def ulps_off(observed: float, exact: mpmath.mpf) -> float:
    return float(abs(mpmath.mpf(observed) - exact) / np.spacing(float(exact)))


def main() -> int:
    mpmath.mp.dps = 50
    print(f"jax {jax.__version__}, optax {optax.__version__}: b2 = {B2}, t = 1..{STEPS[-1]}")
    worst = (0.0, 0, 0.0, mpmath.mpf(0))
    worst_float = 0.0
    for t in STEPS:
        exact = mpmath.mpf(B2) ** t
        # optax's expression: the step count is an integer array
        observed = float(jnp.float64(B2) ** jnp.asarray(t, dtype=jnp.int32))
        off = ulps_off(observed, exact)
        if off > worst[0]:
            worst = (off, t, observed, exact)
        worst_float = max(worst_float, ulps_off(float(jnp.power(jnp.float64(B2), float(t))), exact))
    off, t, observed, exact = worst
    print(f"b2 ** t with t an int32 array, t = {t}: exact {mpmath.nstr(exact, 20)}, observed "
          f"{observed!r}, {off:.1f} ulps off (a pow within 1 ulp: at most {ALLOWED_ULPS})"
          + ("  <-- DEVIATION" if off > ALLOWED_ULPS else ""))
    bc2_exact = 1 - exact
    bc2_relative = float(abs((1 - mpmath.mpf(observed)) - bc2_exact) / bc2_exact)
    print(f"its bias correction 1 - b2^t: exact {mpmath.nstr(bc2_exact, 20)}, relative error "
          f"{bc2_relative:.2e} ({bc2_relative / 2.0**-53:.3g} float64 units)")
    print(f"with t a float exponent, jnp.power is at most {worst_float:.2f} ulps off over the "
          "same steps")
    deviates = off > ALLOWED_ULPS
    print("DEVIATION reproduced" if deviates else "no deviation: b2^t is within 1 ulp")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
