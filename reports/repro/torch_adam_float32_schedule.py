"""torch.optim.Adam(differentiable=True) evaluates its bias corrections in float32.

With ``differentiable=True`` (and ``capturable=True``) the step count is a float32 tensor, so
``1 - beta1 ** step`` and ``1 - beta2 ** step`` are formed in float32, from betas rounded to
float32, whatever the parameters' dtype. The for-loop path forms them in binary64. For a
float64 parameter the step is then off by float32's rounding of the schedule (about 10^7
float64 ulps); in float32, 1 - beta2^t cancels and the rounding of beta2 itself to float32
(0.999 -> 0.99900001287) moves sqrt(1 - beta2^t) by tens of float32 ulps in early steps.

The exact steps (m_hat / (sqrt(v_hat) + eps), as torch's for-loop path reads Adam) are
computed here in mpmath at 50 digits from the float64 values of the hyperparameters.

Run: python torch_adam_float32_schedule.py [Adam|AdamW]  (needs torch and mpmath; exit
status 1 = deviation)
"""

import sys

import mpmath
import torch

LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
THETA = [0.5, -1.0, 2.0, 0.0]  # the last: the step alone, where its own error shows
GRADS = ([-1.0, 0.25, -1.0, 0.5], [0.5, 0.5, -0.25, 2.0], [0.25, -1.0, 1.0, 0.5])
#: ulps allowed at |theta|: a correct float32 step is within a few; in float64 the textbook
#: 1 - beta2^t itself cancels (relative error up to about t b2^t / (1 - b2^t) binary64 ulps,
#: some 10^3 here), so 10^4 float64 ulps separates that from float32's rounding
ULPS = {torch.float64: 1e4, torch.float32: 8}


def exact_steps(theta: float, grads: list[float]) -> mpmath.mpf:
    mpmath.mp.dps = 50
    b1, b2 = mpmath.mpf(BETAS[0]), mpmath.mpf(BETAS[1])
    x, m, v = mpmath.mpf(theta), mpmath.mpf(0), mpmath.mpf(0)
    for t, grad in enumerate(grads, start=1):
        g = mpmath.mpf(grad)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        x -= mpmath.mpf(LR) * m_hat / (mpmath.sqrt(v_hat) + mpmath.mpf(EPS))
    return x


def observed(cls: type, dtype: torch.dtype, differentiable: bool) -> list[float]:
    p = torch.nn.Parameter(torch.tensor(THETA, dtype=dtype))
    if differentiable:  # the differentiable path updates a tensor that carries autograd history
        p = p.clone()
    optimizer = cls([p], lr=LR, betas=BETAS, eps=EPS, weight_decay=0.0, foreach=False,
                    differentiable=differentiable)
    for grad in GRADS:
        p.grad = torch.tensor(grad, dtype=dtype)
        optimizer.step()
    return p.detach().tolist()


def main() -> int:
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    print(f"torch {torch.__version__}: {cls.__name__}(lr={LR}, betas={BETAS}, eps={EPS}), "
          f"{len(GRADS)} steps from theta = {THETA} with gradients {list(GRADS)}")
    deviates = False
    for dtype, unit in ((torch.float64, 2.0**-52), (torch.float32, 2.0**-23)):
        for differentiable in (False, True):
            values = observed(cls, dtype, differentiable)
            worst, shown = 0.0, ""
            for i, (theta, value) in enumerate(zip(THETA, values, strict=True)):
                exact = exact_steps(theta, [g[i] for g in GRADS])
                ulp = unit * 2.0 ** mpmath.floor(mpmath.log(abs(exact), 2))
                error = float(abs(mpmath.mpf(value) - exact) / ulp)
                if error >= worst:
                    worst = error
                    shown = f"theta[{i}]: exact {mpmath.nstr(exact, 20)}, observed {value!r}"
            wrong = worst > ULPS[dtype]
            deviates |= wrong
            print(f"{str(dtype).removeprefix('torch.')}, differentiable={differentiable!s:5}: "
                  f"largest error {worst:.4g} ulps ({shown})" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
