"""pytorch_optimizer.Lamb divides its step by 1 - beta1^t after the trust ratio has set its norm.

Its docstring says the default update "follows version 3 of the paper without bias
correction": u = m / (sqrt(v) + eps), w = u (decoupled decay), and the step lr R w with
R = phi(||theta||) / ||w||, phi(x) = min(x, 10), has norm lr phi(||theta||) whatever the
gradients (LAMB's defining property). The code sets step_size = lr / bias_correction1
(``apply_adam_debias`` with ``adam_debias=False``) and applies it to the ratio-scaled
direction, so the first step has norm 10 lr phi(||theta||) (1 - 0.9^1 = 0.1), the tenth about
1.5 lr phi(||theta||), and the step norm depends on t as a bias correction would, though
neither moment is corrected.

Run: python pytorch_optimizer_lamb_step_divided_by_bias_correction.py  (needs torch,
pytorch-optimizer, mpmath; exit status 1 = deviation)
"""

import importlib.metadata
import sys

import mpmath
import pytorch_optimizer
import torch

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-6
THETA = [0.5, -1.25, 2.0, 0.75]
GRAD = [0.3, -0.2, 0.05, 1.0]
TOLERANCE = 64 * 2.0**-24  # relative: far above the rounding of a float32 step and its norm


def main() -> int:
    mpmath.mp.dps = 50
    print(f"pytorch_optimizer {importlib.metadata.version('pytorch-optimizer')}, "
          f"torch {torch.__version__}")
    p = torch.nn.Parameter(torch.tensor(THETA))
    optimizer = pytorch_optimizer.Lamb([p], lr=LR, betas=(BETA1, BETA2), eps=EPS)
    p.grad = torch.tensor(GRAD)
    optimizer.step()
    observed = p.detach().tolist()
    # the exact step without bias correction: u = m / (sqrt(v) + eps), R = phi / ||u||
    m = [(1 - mpmath.mpf(BETA1)) * g for g in GRAD]
    v = [(1 - mpmath.mpf(BETA2)) * mpmath.mpf(g) ** 2 for g in GRAD]
    u = [mi / (mpmath.sqrt(vi) + EPS) for mi, vi in zip(m, v, strict=True)]
    phi = min(mpmath.sqrt(sum(mpmath.mpf(x) ** 2 for x in THETA)), 10)
    ratio = phi / mpmath.sqrt(sum(x**2 for x in u))
    exact = [mpmath.mpf(x) - LR * ratio * ui for x, ui in zip(THETA, u, strict=True)]
    step = mpmath.sqrt(sum((mpmath.mpf(o) - mpmath.mpf(x)) ** 2
                           for o, x in zip(observed, THETA, strict=True)))
    print(f"step norm after step 1: exact lr phi(||theta||) = {mpmath.nstr(LR * phi, 12)}, "
          f"observed {mpmath.nstr(step, 12)} ({mpmath.nstr(step / (LR * phi), 6)} times)")
    deviates = False
    for i, (want, got) in enumerate(zip(exact, observed, strict=True)):
        wrong = abs(mpmath.mpf(got) - want) > abs(want) * TOLERANCE
        deviates |= wrong
        print(f"theta[{i}] after step 1: exact {mpmath.nstr(want, 17)}, observed {got!r}"
              + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the step has norm lr phi")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
