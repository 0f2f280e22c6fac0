"""pytorch_optimizer.Ranger's default steps uphill on every step below the threshold.

RAdam below its threshold (rho_t < 5: the first steps at beta2 = 0.999) either makes no step
(pytorch-optimizer's own RAdam, degenerated_to_sgd=False) or the SGD step theta - lr m_hat
(degenerated_to_sgd=True). pytorch_optimizer's get_rectify_step_size returns rt = -1 there
when degenerated_to_sgd is False (Ranger's default), so step_size = -lr / (1 - beta1^t);
its RAdam skips a negative step size (`elif step_size > 0`), but Ranger's per-parameter and
foreach paths both run p.add_(exp_avg, alpha=-step_size) = theta + lr m_hat: an ascent step
along the gradient. One step of a scalar parameter theta = 1 with gradient 1 (the loss
theta^2 / 2) moves it away from the minimum, where both readings keep it or move it closer.

Run: python pytorch_optimizer_ranger_ascent_below_threshold.py  (needs torch,
pytorch-optimizer; exit status 1 = deviation)
"""

import importlib.metadata
import sys
from fractions import Fraction

import torch
from pytorch_optimizer import Ranger

LR, THETA, GRAD = 1e-3, 1.0, 1.0


def main() -> int:
    print(f"pytorch_optimizer {importlib.metadata.version('pytorch-optimizer')}, "
          f"torch {torch.__version__}")
    # step 1: m = (1 - beta1) g, m_hat = m / (1 - beta1) = g exactly; rho_1 = 1 < 5
    skip = Fraction(THETA)
    sgd = Fraction(THETA) - Fraction(LR) * Fraction(GRAD)
    deviates = False
    for foreach in (False, True):
        p = torch.nn.Parameter(torch.tensor([THETA], dtype=torch.float64))
        optimizer = Ranger([p], lr=LR, foreach=foreach)  # degenerated_to_sgd=False, the default
        p.grad = torch.tensor([GRAD], dtype=torch.float64)
        optimizer.step()
        observed = Fraction(p.item())
        wrong = observed not in (skip, sgd)
        deviates |= wrong
        print(f"Ranger(foreach={foreach}), step 1 of theta = {THETA} with gradient {GRAD}: "
              f"exact {float(skip)!r} (no step) or {float(sgd)!r} (SGD step), observed "
              f"{float(observed)!r} = theta + {float((observed - skip) / Fraction(LR))!r} lr"
              + ("  <-- DEVIATION (uphill)" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the step is one of the readings")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
