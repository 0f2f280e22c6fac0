"""torch_optimizer.RAdam rounds lr * weight_decay to float32 before the decoupled decay.

torch-optimizer decays with p.add_(p, alpha=-weight_decay * lr): the coefficient is
rounded to float32 and theta - c * theta is formed in float32, so when lr * weight_decay
is close to 1 the decay factor 1 - lr * weight_decay loses accuracy to cancellation (an
absolute error of half a float32 ulp of c, against a factor much smaller than c). The
exact decay is theta * (1 - lr * weight_decay); computing the factor in binary64 and
multiplying once (as torch.optim.RAdam(decoupled_weight_decay=True) does) rounds twice,
an error of at most about 1 float32 ulp; 2 ulps are allowed here. The step below makes no
other update (zero gradient, first step), so the decay is all that changes theta.

Run: python torch_optimizer_decay_factor_rounding.py  (needs torch, torch-optimizer,
mpmath; exit status 1 = deviation)
"""

import importlib.metadata
import sys

import mpmath
import torch
import torch_optimizer

LR, WEIGHT_DECAY, THETA = 1.0, 0.9646616199111993, -1.0
ALLOWED_ULPS = 2.0


def main() -> int:
    mpmath.mp.dps = 50
    exact = mpmath.mpf(THETA) * (1 - mpmath.mpf(LR) * mpmath.mpf(WEIGHT_DECAY))
    ulp = mpmath.mpf(2) ** (mpmath.floor(mpmath.log(abs(exact), 2)) - 23)
    print(f"torch-optimizer {importlib.metadata.version('torch-optimizer')}, torch "
          f"{torch.__version__}: lr={LR}, weight_decay={WEIGHT_DECAY}, theta={THETA}, grad 0")
    deviates = False
    for name, make in (
            ("torch.optim.RAdam(decoupled_weight_decay=True)",
             lambda p: torch.optim.RAdam([p], lr=LR, weight_decay=WEIGHT_DECAY,
                                         decoupled_weight_decay=True)),
            ("torch_optimizer.RAdam", lambda p: torch_optimizer.RAdam(
                [p], lr=LR, weight_decay=WEIGHT_DECAY))):
        p = torch.nn.Parameter(torch.full((1,), THETA))
        optimizer = make(p)
        p.grad = torch.zeros(1)
        optimizer.step()
        observed = float(p.detach()[0])
        error = abs(mpmath.mpf(observed) - exact) / ulp
        wrong = error > ALLOWED_ULPS
        deviates |= wrong and name.startswith("torch_optimizer")
        print(f"{name}: theta after step 1: exact {mpmath.nstr(exact, 17)}, observed "
              f"{observed!r}, error {mpmath.nstr(error, 3)} float32 ulps (allowed "
              f"{ALLOWED_ULPS:g})" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the decay is accurate")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
