"""torch.optim.RAdam(foreach=True) with eps=0 turns an element with zero gradients into NaN.

Step 1 of RAdam is never rectified (rho_1 = 1 is below every threshold), so every convention
takes the SGD step theta - lr * m_hat there: an element whose gradient is 0 keeps its value.
The foreach path also evaluates m / (sqrt(v) + eps) on unrectified steps, which is 0/0 for
that element when eps = 0, and the NaN reaches the parameter. The for-loop path is correct.
A float16 parameter shows the same with the default eps = 1e-8, which rounds to 0 in
float16 (below half its smallest subnormal, 2^-25), also beside float32 tensors in a group.

Run: python torch_foreach_eps_zero.py  (needs torch and mpmath; exit status 1 = deviation)
"""

import sys

import mpmath
import torch

LR, BETA1, BETA2 = 1e-3, 0.9, 0.999
THETA = [0.0, -1.0, 0.0, -1.0]
GRAD = [-1.0, 0.0, -1.0, 0.0]
#: (dtype, eps, relative tolerance: 8 ulps of the dtype, far above the rounding of one step)
CASES = ((torch.float32, 0.0, 8 * 2.0**-24), (torch.float16, 1e-8, 8 * 2.0**-11))


def exact_first_step(theta: float, grad: float) -> mpmath.mpf:
    """Step 1 below the threshold: theta - lr * m_hat, m_hat = g (exact, 50 digits)."""
    mpmath.mp.dps = 50
    m = (1 - mpmath.mpf(BETA1)) * mpmath.mpf(grad)
    m_hat = m / (1 - mpmath.mpf(BETA1))
    return mpmath.mpf(theta) - mpmath.mpf(LR) * m_hat


def observed(foreach: bool, dtype: torch.dtype, eps: float) -> list[float]:
    p = torch.nn.Parameter(torch.tensor(THETA, dtype=dtype))
    optimizer = torch.optim.RAdam([p], lr=LR, betas=(BETA1, BETA2), eps=eps, foreach=foreach)
    p.grad = torch.tensor(GRAD, dtype=dtype)
    optimizer.step()
    return p.detach().float().tolist()


def main() -> int:
    print(f"torch {torch.__version__}: RAdam(lr={LR}, betas=({BETA1}, {BETA2}))")
    print(f"theta = {THETA}, one step with grad = {GRAD}")
    deviates = False
    for dtype, eps, tolerance in CASES:
        for foreach in (False, True):
            values = observed(foreach, dtype, eps)
            for i, (theta, grad) in enumerate(zip(THETA, GRAD, strict=False)):
                exact = exact_first_step(theta, grad)
                wrong = (values[i] != values[i]
                         or abs(mpmath.mpf(values[i]) - exact) > abs(exact) * tolerance)
                deviates |= wrong
                flag = "  <-- DEVIATION" if wrong else ""
                print(f"{str(dtype).removeprefix('torch.')}, eps={eps}, foreach={foreach!s:5} "
                      f"theta[{i}]: exact {mpmath.nstr(exact, 17)}, observed {values[i]!r}{flag}")
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
