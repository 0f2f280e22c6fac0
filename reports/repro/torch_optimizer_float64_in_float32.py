"""torch_optimizer.RAdam steps float64 parameters in float32 arithmetic.

torch-optimizer's step works on p.data.float() and p.grad.data.float(), keeps exp_avg and
exp_avg_sq as float32 tensors and copies the result back into the parameter: a float64
parameter gets a float32 update (about 2^29 float64 ulps of error), and its moments are
float32 values. One step from theta = 1 with gradient 0.1 (below the threshold, so an
SGD step with m_hat): the exact result is theta - lr * m_hat = 1 - lr * 0.1, and
torch.optim.RAdam in float64 is within a float64 ulp of it; 2 ulps are allowed here.

Run: python torch_optimizer_float64_in_float32.py  (needs torch, torch-optimizer, mpmath;
exit status 1 = deviation)
"""

import importlib.metadata
import sys

import mpmath
import torch
import torch_optimizer

LR, THETA, GRAD = 1e-3, 1.0, 0.1
ALLOWED_ULPS = 2.0


def main() -> int:
    mpmath.mp.dps = 50
    # step 1: m = (1 - b1) g, m_hat = m / (1 - b1) = g exactly; rho_1 = 1 < 5: theta - lr m_hat
    exact = mpmath.mpf(THETA) - mpmath.mpf(LR) * mpmath.mpf(GRAD)
    exact_v = (1 - mpmath.mpf(0.999)) * mpmath.mpf(GRAD) ** 2
    ulp = mpmath.mpf(2) ** (mpmath.floor(mpmath.log(abs(exact), 2)) - 52)
    print(f"torch-optimizer {importlib.metadata.version('torch-optimizer')}, torch "
          f"{torch.__version__}: float64 parameter, lr={LR}, theta={THETA}, grad={GRAD}")
    deviates = False
    for name, make in (("torch.optim.RAdam", lambda p: torch.optim.RAdam([p], lr=LR)),
                       ("torch_optimizer.RAdam", lambda p: torch_optimizer.RAdam([p], lr=LR))):
        p = torch.nn.Parameter(torch.full((1,), THETA, dtype=torch.float64))
        optimizer = make(p)
        p.grad = torch.full((1,), GRAD, dtype=torch.float64)
        optimizer.step()
        observed = float(p.detach()[0])
        held = optimizer.state[p]["exp_avg_sq"]
        error = abs(mpmath.mpf(observed) - exact) / ulp
        wrong = error > ALLOWED_ULPS
        deviates |= wrong and name.startswith("torch_optimizer")
        print(f"{name}: theta after step 1: exact {mpmath.nstr(exact, 20)}, observed "
              f"{observed!r}, error {mpmath.nstr(error, 3)} float64 ulps (allowed "
              f"{ALLOWED_ULPS:g}); v held as {held.dtype}: exact {mpmath.nstr(exact_v, 20)}, "
              f"observed {float(held[0])!r}" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the float64 step is accurate")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
