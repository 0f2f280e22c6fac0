"""bitsandbytes' LAMB (CPU backend) measures the update's norm without its bias corrections.

LAMB's trust ratio compares ||theta|| with the norm of the update the step applies,
u = m_hat / (sqrt(v_hat) + eps); bitsandbytes clips it at 1 (max_unorm = 1: the step's norm
is at most lr ||theta||). bitsandbytes.optim.LAMB on the CPU backend
(bitsandbytes/backends/cpu/ops.py, _optimizer_update_32bit_cpu) measures the norm of
m / (sqrt(v) + eps sqrt(1 - b2^t)) instead, which is u without its factor
sqrt(1 - b2^t) / (1 - b1^t), and then applies lr sqrt(1 - b2^t) / (1 - b1^t) times it: on
the first step (factor sqrt(0.001) / 0.1 = 0.316 at the default betas) a tensor whose update
is as large as its parameters is scaled by 0.316 where the ratio is 1. One step of
theta = 1 with gradient 1 (4 elements): u = 1 / (1 + eps) per element, ||u|| <= ||theta||,
so the exact step is theta - lr / (1 + eps), in exact rational arithmetic on the binary64
inputs.

Run: python bitsandbytes_lamb_ratio_without_bias_correction.py  (needs torch, bitsandbytes;
exit status 1 = deviation)
"""

import importlib.metadata
import math
import sys
from fractions import Fraction

import torch

LR, EPS, SIZE = 1e-3, 1e-8, 4
BETA1, BETA2 = 0.9, 0.999


def main() -> int:
    import bitsandbytes

    print(f"bitsandbytes {importlib.metadata.version('bitsandbytes')}, torch {torch.__version__}: "
          f"LAMB(lr={LR}, eps={EPS}), float32 parameter of {SIZE} ones, gradient 1")
    p = torch.nn.Parameter(torch.ones(SIZE))
    optimizer = bitsandbytes.optim.LAMB([p], lr=LR, eps=EPS, betas=(BETA1, BETA2))
    p.grad = torch.ones(SIZE)
    optimizer.step()
    exact = 1 - Fraction(LR) / (1 + Fraction(EPS))
    observed = p.detach().tolist()
    # the step scaled by ||theta|| / ||m / (sqrt(v) + eps sqrt(1 - b2))||, about 0.316
    raw = (1 - BETA1) / (math.sqrt(1 - BETA2) + EPS * math.sqrt(1 - BETA2))
    predicted = 1 - LR * math.sqrt(1 - BETA2) / (1 - BETA1) * raw * min(1.0, 1 / raw) / (
        1 + EPS)
    off = any(abs(Fraction(x) - exact) > Fraction(1, 2**24) for x in observed)
    print(f"theta after one step: exact {float(exact)!r} (each element), observed {observed}; "
          f"the ratio measured without the bias corrections predicts {predicted!r}"
          + ("  <-- DEVIATION" if off else ""))
    print("DEVIATION reproduced" if off else "no deviation: the ratio is LAMB's")
    return 1 if off else 0


if __name__ == "__main__":
    sys.exit(main())
