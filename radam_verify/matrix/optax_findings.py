"""What optax's rows find, RAdam's and Adam's alike: XLA's arithmetic and jnp.power's paths."""

from __future__ import annotations

from radam_verify.matrix.rows import Finding

OPTAX_FLOAT32_SCHEDULE = Finding(
    "rho_t is evaluated in float32 with the textbook formula rho_inf - 2 t b2^t / (1 - b2^t), "
    "which cancels near the threshold: r_t, and with it the step, is off by far more than "
    "float32 arithmetic on the update allows",
    "optax_float32_rho_t.py")
OPTAX_INT_POWER = Finding(
    "run eagerly (without jax.jit), b2^t = b2 ** count with the count a concrete integer takes "
    "jnp.power's integer-exponent path, repeated multiplication: in x64 hundreds of ulps off "
    "for t in the thousands (under jit it is a pow within 1 ulp, what a binary64 schedule "
    "allows); near b2 = 1, 1 - b2^t cancels and the eager step moves by more than that",
    "optax_integer_power.py", when="observed")
OPTAX_FTZ = Finding(
    "XLA on the CPU flushes subnormal values (float32, and float64 with x64) to zero, so "
    "subnormal gradients, moments and updates are lost",
    # a moment or parameter observed as zero; with lr = 0, a subnormal parameter stepped to zero
    "optax_subnormal_flush.py", when=r"observed -?0\.0;| to -?0\.0$")
