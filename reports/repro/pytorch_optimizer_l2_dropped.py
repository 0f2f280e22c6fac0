"""pytorch_optimizer.RAdam(weight_decouple=False) applies no weight decay at all.

The documentation of weight_decouple reads "Apply weight decay to parameters instead of
adding it to the gradient", so weight_decouple=False means L2: g + weight_decay * theta
enters both moments. The implementation calls its weight-decay helper with grad=None on
this path, and the decay is silently dropped: the first moment after one step is
(1 - beta1) * g where the exact L2 step gives (1 - beta1) * (g + weight_decay * theta).

Run: python pytorch_optimizer_l2_dropped.py  (needs torch, pytorch-optimizer, mpmath;
exit status 1 = deviation)
"""

import importlib.metadata
import sys

import mpmath
import pytorch_optimizer
import torch

BETA1, WEIGHT_DECAY = 0.9, 0.1
THETA, GRAD = [1.0, -2.0], [0.5, 0.5]
TOLERANCE = 8 * 2.0**-24  # relative: 8 float32 ulps, far above the rounding of one step


def main() -> int:
    mpmath.mp.dps = 50
    print(f"pytorch_optimizer {importlib.metadata.version('pytorch-optimizer')}, "
          f"torch {torch.__version__}")
    p = torch.nn.Parameter(torch.tensor(THETA))
    optimizer = pytorch_optimizer.RAdam([p], lr=1e-3, betas=(BETA1, 0.999),
                                        weight_decay=WEIGHT_DECAY, weight_decouple=False)
    p.grad = torch.tensor(GRAD)
    optimizer.step()
    observed = optimizer.state[p]["exp_avg"].tolist()
    deviates = False
    for i, (theta, grad) in enumerate(zip(THETA, GRAD, strict=False)):
        exact = (1 - mpmath.mpf(BETA1)) * (mpmath.mpf(grad) + mpmath.mpf(WEIGHT_DECAY) * theta)
        wrong = abs(mpmath.mpf(observed[i]) - exact) > abs(exact) * TOLERANCE
        deviates |= wrong
        print(f"m[{i}] after step 1 (L2, weight_decay={WEIGHT_DECAY}): exact "
              f"{mpmath.nstr(exact, 17)}, observed {observed[i]!r}"
              + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: L2 decay enters the moments")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
