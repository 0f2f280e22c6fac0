"""mindspore.experimental.optim.RAdam evaluates its hyperparameters and schedule in float32.

RAdam (mindspore/experimental/optim/radam.py) passes beta1, beta2 and eps as Python numbers
into a graph compiled by `@jit`, where they become float32 scalars: 1 - beta1 and 1 - beta2
are formed from the rounded values, and bias_correction = 1 - beta^t, rho_inf and rho_t are
float32 arithmetic (`op_pow(beta2, step_t)` with an int32 step count); a group's lr is a
float32 Parameter.

1. float64 parameters get float32 betas: with beta2 = 0.999 one step with g = 1 gives
   v = 1 - float32(0.999) = 0.000999987..., not 0.001: about 10^10 float64 ulps.
2. In float32, even with betas float32 represents exactly, rho_t = rho_inf - 2 t b2^t /
   (1 - b2^t) cancels near the threshold (rho_inf = 2047 at beta2 = 1 - 2^-10, rho_6 =
   5.99): from the state after five steps with g = 1, the sixth, the first rectified one,
   is off by far more than the float32 arithmetic of the step itself allows.

Run: python mindspore_float32_scalars.py  (needs mindspore, numpy, mpmath; exit status 1 =
deviation)
"""

import os
import sys
import tempfile

os.environ.setdefault("GLOG_v", "3")
os.environ.setdefault("MS_OM_PATH", tempfile.mkdtemp())  # the graph of a failed compilation

import mindspore
import mpmath
import numpy as np
from mindspore.experimental import optim

ALLOWED_ULPS = 16.0  # about ten roundings of half an ulp in the step's own arithmetic


def held(optimizer, prefix, param):
    return next(p for name, p in optimizer.parameters_and_names() if name == f"{prefix}.{param.name}")


def run(dtype, lr, beta1, beta2, eps, t=0, m=0.0, v=0.0):
    """theta[0] and v[0] after one step with g = 1 from theta = 0, after t steps with m, v."""
    kind = getattr(mindspore, dtype)
    param = mindspore.Parameter(mindspore.Tensor(np.zeros(1, dtype=dtype), kind), name="theta")
    optimizer = optim.RAdam([param], lr=lr, betas=(beta1, beta2), eps=eps)
    optimizer.step_t.set_data(mindspore.Tensor(t, mindspore.int32))
    held(optimizer, "exp_avg", param).set_data(mindspore.Tensor(np.full(1, m, dtype=dtype), kind))
    held(optimizer, "exp_avg_sq", param).set_data(mindspore.Tensor(np.full(1, v, dtype=dtype), kind))
    optimizer((mindspore.Tensor(np.ones(1, dtype=dtype), kind),))
    return (float(param.asnumpy()[0]), float(held(optimizer, "exp_avg_sq", param).asnumpy()[0]))


def main() -> int:
    print(f"mindspore {mindspore.__version__}")
    mindspore.set_device("CPU")
    mpmath.mp.prec = 200
    deviates = False

    _, v = run("float64", 1e-3, 0.9, 0.999, 1e-8)
    exact_v = 1 - mpmath.mpf(0.999)  # (1 - b2) g^2 with g = 1, exactly
    ulps = float(abs(mpmath.mpf(v) - exact_v)) / float(np.spacing(float(exact_v)))
    bad = ulps > ALLOWED_ULPS
    deviates |= bad
    print(f"1. float64, beta2 = 0.999, one step with g = 1: v exact {mpmath.nstr(exact_v, 20)}, "
          f"observed {v!r} ({ulps:.3g} float64 ulps)" + ("  <-- DEVIATION" if bad else ""))

    b1, b2, eps, t = 0.875, 1 - 2.0**-10, 2.0**-30, 5
    # the state after five steps with g = 1, rounded once to float32: m = 1 - b1^5, v = 1 - b2^5
    m5 = float(np.float32(1 - mpmath.mpf(b1) ** t))
    v5 = float(np.float32(1 - mpmath.mpf(b2) ** t))
    theta, _ = run("float32", 1.0, b1, b2, eps, t, m5, v5)
    B1, B2, E = mpmath.mpf(b1), mpmath.mpf(b2), mpmath.mpf(eps)
    m6, v6, s = B1 * m5 + (1 - B1), B2 * v5 + (1 - B2), t + 1
    rho_inf = 2 / (1 - B2) - 1
    rho = rho_inf - 2 * s * B2**s / (1 - B2**s)
    r = mpmath.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    exact = -(m6 / (1 - B1**s)) * r * mpmath.sqrt(1 - B2**s) / (mpmath.sqrt(v6) + E)
    ulps = float(abs(mpmath.mpf(theta) - exact)) / float(np.spacing(np.float32(abs(float(exact)))))
    bad = ulps > ALLOWED_ULPS
    deviates |= bad
    print(f"2. float32, beta1 = {b1}, beta2 = 1 - 2^-10 (both exact in float32), rho_6 = "
          f"{mpmath.nstr(rho, 8)}: theta after the first rectified step (lr = 1, g = 1): exact "
          f"{mpmath.nstr(exact, 20)}, observed {theta!r} ({ulps:.3g} float32 ulps, allowed "
          f"{ALLOWED_ULPS})" + ("  <-- DEVIATION" if bad else ""))
    print("DEVIATION reproduced" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
