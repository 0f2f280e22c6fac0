"""pytorch-ranger's Ranger steps float64 parameters in float32 arithmetic.

pytorch_ranger/ranger.py (0.1.1) takes ``grad = p.grad.data.float()`` and ``p_data_fp32 =
p.data.float()``, keeps exp_avg and exp_avg_sq as float32 tensors, and copies the result
back into the parameter: a float64 parameter gets a float32 update (one float32 ulp is 2^29
float64 ulps). One step from theta = 1 with gradient 0.1 (below the threshold: an SGD step,
theta - lr m_hat with m_hat = g): computed here in mpmath; torch.optim.RAdam in float64 is
within a float64 ulp of it; 2 ulps are allowed.

Run: python pytorch_ranger_float64_in_float32.py  (needs torch, pytorch-ranger, mpmath; exit
status 1 = deviation)
"""

import importlib.metadata
import sys

import mpmath
import torch
from pytorch_ranger import Ranger

LR, THETA, GRAD = 1e-3, 1.0, 0.1
ALLOWED_ULPS = 2.0


def main() -> int:
    mpmath.mp.dps = 50
    exact = mpmath.mpf(THETA) - mpmath.mpf(LR) * mpmath.mpf(GRAD)
    ulp = mpmath.mpf(2) ** (mpmath.floor(mpmath.log(abs(exact), 2)) - 52)
    print(f"pytorch-ranger {importlib.metadata.version('pytorch-ranger')}, torch "
          f"{torch.__version__}: float64 parameter, lr={LR}, theta={THETA}, grad={GRAD}")
    deviates = False
    for name, make in (("torch.optim.RAdam", lambda p: torch.optim.RAdam([p], lr=LR)),
                       ("pytorch-ranger Ranger", lambda p: Ranger([p], lr=LR))):
        p = torch.nn.Parameter(torch.full((1,), THETA, dtype=torch.float64))
        optimizer = make(p)
        p.grad = torch.full((1,), GRAD, dtype=torch.float64)
        optimizer.step()
        observed = float(p.detach()[0])
        held = optimizer.state[p]["exp_avg_sq"]
        error = abs(mpmath.mpf(observed) - exact) / ulp
        wrong = error > ALLOWED_ULPS
        deviates |= wrong and name.startswith("pytorch-ranger")
        print(f"{name}: theta after step 1: exact {mpmath.nstr(exact, 20)}, observed "
              f"{observed!r}, error {mpmath.nstr(error, 3)} float64 ulps (allowed "
              f"{ALLOWED_ULPS:g}); v held as {held.dtype}" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the float64 step is accurate")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
