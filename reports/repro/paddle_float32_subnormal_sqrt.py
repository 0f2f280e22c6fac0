"""paddle.optimizer.RAdam in float32 takes sqrt(v) as 0 where v is subnormal, on tensors of
8 elements or more.

Paddle's radam kernel (paddle/phi/kernels/impl/radam_kernel_impl.h) evaluates l_t =
sqrt(1 - b2^t) / (sqrt(v) + eps) as an Eigen expression. On tensors long enough for the
vectorised body (8 float32 lanes and more), that square root returns 0 for a subnormal v,
while the scalar path of a shorter tensor returns it: the same state and gradient step
differently by the tensor's size. With eps = 0 the update is then m_hat r_t / 0 (inf); with
eps > 0 it is divided by eps alone.

A constant gradient g = 1e-20 (g^2 = 1e-40 is subnormal in float32) at beta1 = 0.5,
beta2 = 0.875 (both exact in float32; rho_inf = 15): steps 1-5 are below the threshold and
move theta by lr g each; step 6 is the first rectified step, where v = (1 - b2^6) g^2 and
the update is exactly lr r_6 with eps = 0 (m_hat = g, sqrt(v_hat) = g).

Run: python paddle_float32_subnormal_sqrt.py  (needs paddlepaddle, numpy, mpmath; exit 1 =
deviation)
"""

import sys

import mpmath
import numpy as np
import paddle

LR, BETA1, BETA2, G, STEPS = 1e-3, 0.5, 0.875, 1e-20, 6
#: the float32 arithmetic of one step, a few roundings of half an ulp (generously)
ALLOWED_ULPS = 16.0


def paddle_theta(size: int) -> np.ndarray:
    """theta (from 1) after STEPS steps with the gradient G on a tensor of ``size`` elements."""
    param = paddle.create_parameter([size], dtype="float32",
                                    default_initializer=paddle.nn.initializer.Constant(1.0))
    optimizer = paddle.optimizer.RAdam(learning_rate=LR, beta1=BETA1, beta2=BETA2, epsilon=0.0,
                                       parameters=[param])
    for _ in range(STEPS):
        param.grad = paddle.full([size], G, dtype="float32")
        optimizer.step()
    return np.asarray(param.numpy(), dtype=np.float64)


def exact_theta() -> mpmath.mpf:
    """Five SGD steps of lr g, then lr r_6 (eps = 0), in exact arithmetic on the float32
    values of lr and g."""
    mpmath.mp.prec = 200
    lr, g, b2 = (mpmath.mpf(float(np.float32(x))) for x in (LR, G, BETA2))
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * STEPS * b2**STEPS / (1 - b2**STEPS)
    assert rho > 5 > rho_inf - 2 * (STEPS - 1) * b2 ** (STEPS - 1) / (1 - b2 ** (STEPS - 1))
    r = mpmath.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return 1 - (STEPS - 1) * lr * g - lr * r


def main() -> int:
    print(f"paddlepaddle {paddle.__version__}")
    paddle.set_device("cpu")
    exact = exact_theta()
    ulp = float(np.spacing(np.float32(float(exact))))
    deviates = False
    for size in (1, 4, 8, 64):
        theta = paddle_theta(size)
        error = max(abs(mpmath.mpf(float(x)) - exact) for x in theta)
        ulps = float(error / ulp) if mpmath.isfinite(error) else float("inf")
        bad = not ulps <= ALLOWED_ULPS
        deviates |= bad
        print(f"{size:3d} elements: theta[0] after step {STEPS} is {float(theta[0])!r}, exact "
              f"{mpmath.nstr(exact, 20)} ({ulps:.3g} float32 ulps, allowed {ALLOWED_ULPS})"
              + ("  <-- DEVIATION" if bad else ""))
    print("DEVIATION reproduced" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
