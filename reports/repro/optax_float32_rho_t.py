"""optax.radam in float32 evaluates rho_t in float32, and the rectified step loses accuracy.

optax computes rho_t = rho_inf - 2 t b2^t / (1 - b2^t) in the dtype of the step count's
float conversion (float32 without x64). Near the threshold the two terms nearly cancel:
at b2 = 0.999, rho_inf = 1999 and rho_6 = 5.99, so an absolute error of a few float32 ulps
of 1999 (about 1e-4) is a relative error of about 1e-4 in rho_6 - 4, which r_t and the
update inherit. With a constant gradient g the update is exactly -lr * r_t * g / (|g| +
eps), so its error is r_t's. The remaining float32 arithmetic of the step (bias
corrections, sqrt, division, products: about ten roundings of half an ulp) cannot account
for more than 16 ulps; optax with x64 (rho_t in float64) meets the exact value.

Run: python optax_float32_rho_t.py  (needs jax, optax, mpmath; exit status 1 = deviation)
"""

import sys

import jax.numpy as jnp
import mpmath
import optax

LR, BETA1, BETA2, EPS, STEPS, GRAD = 1e-3, 0.9, 0.999, 1e-8, 6, 1.0
ALLOWED_ULPS = 16.0


def exact_update() -> mpmath.mpf:
    """The exact update of step STEPS with a constant gradient (threshold 5, rectified)."""
    mpmath.mp.dps = 60
    b1, b2, lr, eps, g = (mpmath.mpf(x) for x in (BETA1, BETA2, LR, EPS, GRAD))
    m = v = mpmath.mpf(0)
    for _ in range(STEPS):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    t = STEPS
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
    assert rho_t >= 5
    r_t = mpmath.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return -lr * r_t * m_hat / (mpmath.sqrt(v_hat) + eps)


def main() -> int:
    print(f"optax {optax.__version__}: radam(lr={LR}, b1={BETA1}, b2={BETA2}, eps={EPS}), float32,"
          f" {STEPS} steps with gradient {GRAD}")
    optimizer = optax.radam(LR, b1=BETA1, b2=BETA2, eps=EPS)
    params = jnp.zeros(1, dtype=jnp.float32)
    state = optimizer.init(params)
    grad = jnp.full(1, GRAD, dtype=jnp.float32)
    for _ in range(STEPS):
        updates, state = optimizer.update(grad, state, params)
    observed = float(updates[0])
    exact = exact_update()
    ulp = mpmath.mpf(2) ** (mpmath.floor(mpmath.log(abs(exact), 2)) - 23)  # float32 ulp of exact
    error = abs(mpmath.mpf(observed) - exact) / ulp
    deviates = error > ALLOWED_ULPS
    print(f"update of step {STEPS}: exact {mpmath.nstr(exact, 17)}, observed {observed!r}, "
          f"error {mpmath.nstr(error, 4)} float32 ulps (allowed {ALLOWED_ULPS:g})"
          + ("  <-- DEVIATION" if deviates else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the step is accurate in float32")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
