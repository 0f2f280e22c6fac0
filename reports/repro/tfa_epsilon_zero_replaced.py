"""tensorflow_addons' RectifiedAdam replaces epsilon = 0 by 1e-7.

RectifiedAdam.__init__ (tensorflow_addons/optimizers/rectified_adam.py) sets
`self.epsilon = epsilon or tf.keras.backend.epsilon()`: a legal epsilon of 0 is falsy and
becomes Keras' default fuzz factor, 1e-7, without a word (get_config then reports 1e-7).
Every rectified step divides by sqrt(v_hat) + 1e-7 instead of sqrt(v_hat): with gradients
of 10^-3, a relative error of 10^-4 in the update, 10^12 times what binary64 arithmetic
allows.

The run uses float64 parameters and hyperparameters float32 represents exactly (beta_1 =
0.5, beta_2 = 0.75, lr = 2^-4), so the optimizer's float32 hyperparameters (see
tfa_float32_hyperparameters.py) change nothing here; with a constant gradient g, m_hat = g
and sqrt(v_hat) = |g| exactly, and the exact rectified update is lr r_t sign(g).

Run: python tfa_epsilon_zero_replaced.py  (needs tensorflow 2.15, tensorflow-addons, numpy,
mpmath; exit status 1 = deviation)
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

BETA_1, BETA_2, LR, GRAD, STEPS = 0.5, 0.75, 2.0**-4, 2.0**-10, 12
ALLOWED_ULPS = 16.0 * STEPS  # a few roundings of half an ulp per step, accumulated


def tfa_theta(epsilon: float) -> tuple[float, float]:
    """theta[0] after STEPS steps with g = GRAD from theta = 1, and epsilon as configured."""
    variable = tf.Variable(np.ones(1))
    optimizer = tfa.optimizers.RectifiedAdam(learning_rate=LR, beta_1=BETA_1, beta_2=BETA_2,
                                             epsilon=epsilon)
    for _ in range(STEPS):
        optimizer.apply_gradients([(tf.constant([GRAD], dtype=tf.float64), variable)])
    return float(variable.numpy()[0]), float(optimizer.get_config()["epsilon"])


def exact_theta(epsilon: float) -> mpmath.mpf:
    """theta after STEPS steps, exactly: sma_t >= 5 rectifies, an SGD step below."""
    mpmath.mp.prec = 200
    b2, e, g, lr = mpmath.mpf(BETA_2), mpmath.mpf(epsilon), mpmath.mpf(GRAD), mpmath.mpf(LR)
    sma_inf = 2 / (1 - b2) - 1
    theta = mpmath.mpf(1)
    for t in range(1, STEPS + 1):
        sma_t = sma_inf - 2 * t * b2**t / (1 - b2**t)
        if sma_t >= 5:  # m_hat = g, sqrt(v_hat) = g exactly for a constant gradient g > 0
            r_t = mpmath.sqrt((sma_t - 4) * (sma_t - 2) * sma_inf
                              / ((sma_inf - 4) * (sma_inf - 2) * sma_t))
            theta -= lr * r_t * g / (g + e)
        else:
            theta -= lr * g
    return theta


def main() -> int:
    print(f"tensorflow {tf.__version__}, tensorflow-addons {tfa.__version__}")
    ulp = float(np.spacing(1.0))
    observed, held = tfa_theta(0.0)
    exact = exact_theta(0.0)
    ulps = float(abs(mpmath.mpf(observed) - exact)) / ulp
    deviates = ulps > ALLOWED_ULPS
    print(f"epsilon=0.0 given, get_config()['epsilon'] = {held!r}; theta after {STEPS} steps: "
          f"exact {mpmath.nstr(exact, 20)}, observed {observed!r} ({ulps:.3g} float64 ulps, "
          f"allowed {ALLOWED_ULPS})" + ("  <-- DEVIATION" if deviates else ""))
    as_if = exact_theta(1e-7)
    print(f"the exact theta with epsilon = 1e-7 instead: {mpmath.nstr(as_if, 20)} "
          f"({float(abs(mpmath.mpf(observed) - as_if)) / ulp:.3g} float64 ulps from observed)")
    print("DEVIATION reproduced" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
