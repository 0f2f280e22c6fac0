"""optimi.RAdam with L2 weight decay adds the decay to the caller's gradient in place.

torch.optim optimizers read p.grad and leave it as it was (torch.optim.RAdam adds the L2
term to a new tensor). torch-optimi's RAdam (for-loop and foreach paths alike) runs
grad.add_(param, alpha=weight_decay) on p.grad itself, so after step() the gradient the
caller computed holds g + weight_decay * theta: gradient clipping or logging after the
step, gradient accumulation across step() calls, or a second optimizer over the same
parameters all see a gradient the model never produced. The update itself is the exact
L2 step.

Run: python torch_optimi_l2_grad_in_place.py  (needs torch, torch-optimi;
exit status 1 = deviation)
"""

import importlib.metadata
import sys

import optimi
import torch

THETA = [0.5, -1.0, 2.0, 0.25]
GRAD = [-1.0, 0.0, -1.0, 0.5]
WEIGHT_DECAY = 0.5


def main() -> int:
    print(f"torch-optimi {importlib.metadata.version('torch-optimi')}, torch {torch.__version__}")
    deviates = False
    candidates = (("torch.optim.RAdam", torch.optim.RAdam, {"foreach": False}),
                  ("optimi.RAdam (for-loop)", optimi.RAdam, {"foreach": False}),
                  ("optimi.RAdam (foreach)", optimi.RAdam, {"foreach": True}))
    for name, cls, kwargs in candidates:
        p = torch.nn.Parameter(torch.tensor(THETA))
        optimizer = cls([p], lr=1e-3, weight_decay=WEIGHT_DECAY, **kwargs)
        p.grad = torch.tensor(GRAD)
        optimizer.step()
        after = p.grad.tolist()
        changed = after != GRAD
        deviates |= changed and name.startswith("optimi")
        print(f"{name}(weight_decay={WEIGHT_DECAY}): p.grad after step: exact {GRAD} "
              f"(unchanged), observed {after}" + ("  <-- DEVIATION" if changed else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: step() leaves p.grad alone")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
