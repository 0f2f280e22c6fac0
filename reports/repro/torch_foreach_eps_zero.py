"""torch.optim.RAdam(foreach=True) with eps=0 turns an element with zero gradients into NaN.

Step 1 of RAdam is never rectified (rho_1 = 1 is below every threshold), so every convention
takes the SGD step theta - lr * m_hat there: an element whose gradient is 0 keeps its value.
The foreach path also evaluates m / (sqrt(v) + eps) on unrectified steps, which is 0/0 for
that element when eps = 0, and the NaN reaches the parameter. The for-loop path is correct.

Run: python torch_foreach_eps_zero.py  (needs torch and mpmath; exit status 1 = deviation)
"""

import sys

import mpmath
import torch

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 0.0
THETA = [0.0, -1.0, 0.0, -1.0]
GRAD = [-1.0, 0.0, -1.0, 0.0]
TOLERANCE = 8 * 2.0**-24  # relative: 8 float32 ulps, far above the rounding of one step


def exact_first_step(theta: float, grad: float) -> mpmath.mpf:
    """Step 1 below the threshold: theta - lr * m_hat, m_hat = g (exact, 50 digits)."""
    mpmath.mp.dps = 50
    m = (1 - mpmath.mpf(BETA1)) * mpmath.mpf(grad)
    m_hat = m / (1 - mpmath.mpf(BETA1))
    return mpmath.mpf(theta) - mpmath.mpf(LR) * m_hat


def observed(foreach: bool) -> list[float]:
    p = torch.nn.Parameter(torch.tensor(THETA, dtype=torch.float32))
    optimizer = torch.optim.RAdam([p], lr=LR, betas=(BETA1, BETA2), eps=EPS, foreach=foreach)
    p.grad = torch.tensor(GRAD, dtype=torch.float32)
    optimizer.step()
    return p.detach().tolist()


def main() -> int:
    print(f"torch {torch.__version__}: RAdam(lr={LR}, betas=({BETA1}, {BETA2}), eps={EPS})")
    print(f"theta = {THETA}, one step with grad = {GRAD}")
    deviates = False
    for foreach in (False, True):
        values = observed(foreach)
        for i, (theta, grad) in enumerate(zip(THETA, GRAD, strict=False)):
            exact = exact_first_step(theta, grad)
            wrong = values[i] != values[i] or abs(mpmath.mpf(values[i]) - exact) > abs(exact) * TOLERANCE
            deviates |= wrong
            flag = "  <-- DEVIATION" if wrong else ""
            print(f"foreach={foreach!s:5} theta[{i}]: exact {mpmath.nstr(exact, 17)}, "
                  f"observed {values[i]!r}{flag}")
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
