"""tensorflow_addons' RectifiedAdam holds its hyperparameters as float32 variables and
evaluates its schedule in the parameters' dtype.

RectifiedAdam (tensorflow_addons/optimizers/rectified_adam.py) sets beta_1, beta_2 and the
learning rate with `_set_hyper`; Keras' OptimizerV2 creates each as a float32 variable (the
backend's floatx), and `_prepare_local` casts them to the parameters' dtype and forms
1 - beta_1, 1 - beta_2, beta^t = tf.pow(beta, t) and
sma_t = sma_inf - 2 t beta_2^t / (1 - beta_2^t) from the rounded values, in that dtype.

1. float64 parameters get float32 betas: with beta_2 = 0.999 one step with g = 1 gives
   v = 1 - float32(0.999) = 0.000999987..., not 0.001: about 10^10 float64 ulps.
2. In float32, even with betas float32 represents exactly, the schedule is float32
   arithmetic: sma_t cancels near the threshold (sma_inf = 2047 at beta_2 = 1 - 2^-10,
   sma_6 = 5.99), so r_t, and the first rectified update, are off by far more than the
   float32 arithmetic of the step itself allows. Steps 1-5 (below the threshold) move theta
   by lr = 2^-40 each; step 6, the first rectified one, with lr = 1, is almost all of theta.

Run: python tfa_float32_hyperparameters.py  (needs tensorflow 2.15, tensorflow-addons,
numpy, mpmath; exit status 1 = deviation)
"""

import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.simplefilter("ignore")  # tensorflow_addons announces its end of life on import

import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_addons as tfa  # noqa: E402

ALLOWED_ULPS = 16.0  # about ten roundings of half an ulp in the step's own arithmetic


def tfa_run(dtype: str, beta_1: float, beta_2: float, epsilon: float, lrs: list[float]
            ) -> tuple[float, float]:
    """theta[0] and v[0] after one step with g = 1 from theta = 0 per entry of ``lrs`` (that
    step's learning rate, assigned as a schedule does)."""
    variable = tf.Variable(np.zeros(1, dtype=dtype))
    optimizer = tfa.optimizers.RectifiedAdam(learning_rate=lrs[0], beta_1=beta_1, beta_2=beta_2,
                                             epsilon=epsilon)
    for lr in lrs:
        optimizer.learning_rate = lr
        optimizer.apply_gradients([(tf.ones(1, dtype=dtype), variable)])
    return float(variable.numpy()[0]), float(optimizer.get_slot(variable, "v").numpy()[0])


def exact_theta(beta_2: float, epsilon: float, lrs: list[float]) -> mpmath.mpf:
    """The exact theta after one step with g = 1 per entry of ``lrs``: sma_t >= 5 rectifies
    (eps beside the bias-corrected sqrt(v)), below it an SGD step with m_hat; with g = 1,
    m_hat = v_hat = 1 exactly, whatever beta_1."""
    mpmath.mp.prec = 200
    b2, e = mpmath.mpf(beta_2), mpmath.mpf(epsilon)
    sma_inf = 2 / (1 - b2) - 1
    theta = mpmath.mpf(0)
    for t, lr in enumerate(lrs, start=1):
        sma_t = sma_inf - 2 * t * b2**t / (1 - b2**t)
        if sma_t >= 5:
            r_t = mpmath.sqrt((sma_t - 4) * (sma_t - 2) * sma_inf
                              / ((sma_inf - 4) * (sma_inf - 2) * sma_t))
            theta -= mpmath.mpf(lr) * r_t / (1 + e)
        else:
            theta -= mpmath.mpf(lr)
    return theta


def main() -> int:
    print(f"tensorflow {tf.__version__}, tensorflow-addons {tfa.__version__}")
    deviates = False

    _, v = tfa_run("float64", 0.9, 0.999, 1e-8, [1e-3])
    exact_v = 1 - mpmath.mpf(0.999)  # (1 - b2) g^2 with g = 1, exactly
    ulp = float(np.spacing(float(exact_v)))
    ulps = float(abs(mpmath.mpf(v) - exact_v)) / ulp
    bad = ulps > ALLOWED_ULPS
    deviates |= bad
    print(f"1. float64, beta_2 = 0.999, one step with g = 1: v exact {mpmath.nstr(exact_v, 20)}, "
          f"observed {v!r} ({ulps:.3g} float64 ulps)" + ("  <-- DEVIATION" if bad else ""))

    beta_1, beta_2, epsilon, steps = 0.875, 1 - 2.0**-10, 2.0**-30, 6
    lrs = [2.0**-40] * (steps - 1) + [1.0]
    theta, _ = tfa_run("float32", beta_1, beta_2, epsilon, lrs)
    exact = exact_theta(beta_2, epsilon, lrs)
    ulp = float(np.spacing(np.float32(abs(float(exact)))))
    ulps = float(abs(mpmath.mpf(theta) - exact)) / ulp
    bad = ulps > ALLOWED_ULPS
    deviates |= bad
    print(f"2. float32, beta_1 = {beta_1}, beta_2 = 1 - 2^-10 (both exact in float32), theta "
          f"after step {steps} with g = 1: exact {mpmath.nstr(exact, 20)}, observed {theta!r} "
          f"({ulps:.3g} float32 ulps, allowed {ALLOWED_ULPS})" + ("  <-- DEVIATION" if bad else ""))
    print("DEVIATION reproduced" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
