"""paddle.optimizer.RAdam rounds beta1, beta2 and epsilon to float32 and keeps its schedule
in the parameters' dtype.

Paddle's radam kernel (paddle/phi/kernels/impl/radam_kernel_impl.h) takes beta1, beta2 and
epsilon as `float` attributes and forms 1 - beta1 and 1 - beta2 from the rounded values;
b1^t, b2^t and t b2^t / (1 - b2^t) are accumulators advanced by one recursion per step in
the parameters' dtype, and rho_t = rho_inf - 2 (t b2^t / (1 - b2^t)) is formed from them.

1. float64 parameters get float32 hyperparameters: with beta2 = 0.999 one step with g = 1
   gives v = 1 - float32(0.999) = 0.000999987..., not 0.001: an error of about 10^10
   float64 ulps.
2. In float32, even with betas that float32 represents exactly, rho_t cancels near the
   threshold (rho_inf = 2047 at beta2 = 1 - 2^-10, rho_6 = 5.99): the float32 rounding of
   the accumulated rho is an error of about 10^-4 in rho_t - 4, which r_t and the update
   inherit. With a constant gradient g = 1 the update is exactly
   lr r_t sqrt(1 - b2^t) / (sqrt(v) + eps). Steps 1-5 (below the threshold) move theta by
   lr = 2^-40 each, exactly; step 6, the first rectified one, with lr = 1, is then almost
   all of theta. The float32 arithmetic of the step itself (about ten roundings of half an
   ulp) cannot account for more than 16 ulps.

Run: python paddle_float32_scalars.py  (needs paddlepaddle, numpy, mpmath; exit 1 = deviation)
"""

import sys

import mpmath
import numpy as np
import paddle

ALLOWED_ULPS = 16.0


def paddle_run(dtype: str, beta1: float, beta2: float, eps: float, lrs: list[float]
               ) -> tuple[float, float]:
    """theta[0] and moment2[0] after one step with g = 1 from theta = 0 per entry of ``lrs``
    (the learning rate of that step, set with set_lr as a schedule does)."""
    param = paddle.create_parameter([1], dtype=dtype,
                                    default_initializer=paddle.nn.initializer.Constant(0.0))
    optimizer = paddle.optimizer.RAdam(learning_rate=lrs[0], beta1=beta1, beta2=beta2,
                                       epsilon=eps, parameters=[param])
    for lr in lrs:
        optimizer.set_lr(lr)
        param.grad = paddle.ones([1], dtype=dtype)
        optimizer.step()
    moment2 = next(v for k, v in optimizer.state_dict().items() if "moment2" in k)
    return float(param.numpy()[0]), float(moment2.numpy()[0])


def exact_theta(beta1: float, beta2: float, eps: float, lrs: list[float]) -> mpmath.mpf:
    """The exact theta after one step with g = 1 per entry of ``lrs`` (threshold 5, an SGD
    step below); beta1 does not enter: with g = 1, m_hat = 1 exactly."""
    del beta1
    mpmath.mp.prec = 200
    b2, e = mpmath.mpf(beta2), mpmath.mpf(eps)
    rho_inf = 2 / (1 - b2) - 1
    theta = mpmath.mpf(0)
    for t, lr in enumerate(lrs, start=1):
        a = mpmath.mpf(lr)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        m_hat = mpmath.mpf(1)  # m = 1 - b1^t exactly for g = 1
        if rho_t > 5:
            r_t = mpmath.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                              / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            theta -= a * m_hat * r_t * mpmath.sqrt(1 - b2**t) / (mpmath.sqrt(1 - b2**t) + e)
        else:
            theta -= a * m_hat
    return theta


def main() -> int:
    print(f"paddlepaddle {paddle.__version__}")
    paddle.set_device("cpu")
    deviates = False

    _, v = paddle_run("float64", 0.9, 0.999, 1e-8, [1e-3])
    exact_v = 1 - 0.999  # (1 - b2) g^2 with g = 1, in binary64 (exact to the last ulp here)
    ulps = abs(v - exact_v) / float(np.spacing(exact_v))
    bad = ulps > ALLOWED_ULPS
    deviates |= bad
    print(f"1. float64, beta2 = 0.999, one step with g = 1: v exact {exact_v!r}, observed {v!r} "
          f"({ulps:.3g} float64 ulps)" + ("  <-- DEVIATION" if bad else ""))

    # five unrectified steps with a tiny learning rate (exact: theta moves by 2^-40 each),
    # then the first rectified step, whose update is the whole of theta
    beta1, beta2, eps, steps = 0.875, 1 - 2.0**-10, 2.0**-30, 6
    lrs = [2.0**-40] * (steps - 1) + [1.0]
    theta, _ = paddle_run("float32", beta1, beta2, eps, lrs)
    exact = exact_theta(beta1, beta2, eps, lrs)
    ulp = float(np.spacing(np.float32(abs(float(exact)))))
    ulps = float(abs(mpmath.mpf(theta) - exact)) / ulp
    bad = ulps > ALLOWED_ULPS
    deviates |= bad
    print(f"2. float32, beta1 = {beta1}, beta2 = 1 - 2^-10 (both exact in float32), theta after "
          f"step {steps} with g = 1: exact {mpmath.nstr(exact, 20)}, observed {theta!r} "
          f"({ulps:.3g} float32 ulps, allowed {ALLOWED_ULPS})" + ("  <-- DEVIATION" if bad else ""))
    print("DEVIATION reproduced" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
