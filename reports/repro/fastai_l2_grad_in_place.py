"""fastai.optimizer.RAdam(decouple_wd=False) adds the L2 term to the caller's gradient in place.

With decouple_wd=False fastai's RAdam runs the l2_reg callback, p.grad.data.add_(p.data,
alpha=wd), so after step() the gradient the caller computed holds g + wd * theta
(torch.optim.RAdam adds the L2 term to a new tensor and leaves p.grad alone). Gradient
clipping or logging after the step, gradient accumulation across step() calls, or a second
optimizer over the same parameters all see a gradient the model never produced. The update
itself is the exact L2 step.

Run: python fastai_l2_grad_in_place.py  (needs torch and fastai; exit status 1 = deviation)
"""

import importlib.metadata
import sys

import torch
from fastai.optimizer import RAdam

THETA = [0.5, -1.0, 2.0, 0.25]
GRAD = [-1.0, 0.0, -1.0, 0.5]
WEIGHT_DECAY = 0.5


def main() -> int:
    print(f"fastai {importlib.metadata.version('fastai')}, torch {torch.__version__}")
    deviates = False
    for name, decouple in (("RAdam(decouple_wd=True)", True), ("RAdam(decouple_wd=False)", False)):
        p = torch.nn.Parameter(torch.tensor(THETA))
        optimizer = RAdam([p], lr=1e-3, wd=WEIGHT_DECAY, decouple_wd=decouple)
        p.grad = torch.tensor(GRAD)
        optimizer.step()
        after = p.grad.tolist()
        changed = after != GRAD
        deviates |= changed
        print(f"fastai {name}, wd={WEIGHT_DECAY}: p.grad after step: exact {GRAD} (unchanged), "
              f"observed {after}" + ("  <-- DEVIATION" if changed else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: step() leaves p.grad alone")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
