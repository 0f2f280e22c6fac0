"""pytorch_optimizer.RAdam(maximize=True) negates the caller's gradient in place.

torch.optim optimizers read p.grad and leave it as it was (torch.optim.RAdam with maximize
negates a copy). pytorch_optimizer's RAdam calls grad.neg_() on p.grad, so after step()
the gradient the caller computed has the opposite sign: gradient clipping or logging after
the step, gradient accumulation across step() calls, or a second optimizer over the same
parameters all see the wrong sign. The update itself is the exact ascent step.

Run: python pytorch_optimizer_maximize_negates_grad.py  (needs torch, pytorch-optimizer;
exit status 1 = deviation)
"""

import importlib.metadata
import sys

import pytorch_optimizer
import torch

GRAD = [-1.0, 0.0, -1.0, -1.0]


def main() -> int:
    print(f"pytorch_optimizer {importlib.metadata.version('pytorch-optimizer')}, "
          f"torch {torch.__version__}")
    deviates = False
    for name, cls in (("torch.optim.RAdam", torch.optim.RAdam),
                      ("pytorch_optimizer.RAdam", pytorch_optimizer.RAdam)):
        p = torch.nn.Parameter(torch.zeros(len(GRAD)))
        optimizer = cls([p], lr=1e-3, maximize=True)
        p.grad = torch.tensor(GRAD)
        optimizer.step()
        after = p.grad.tolist()
        changed = after != GRAD
        deviates |= changed and name.startswith("pytorch_optimizer")
        print(f"{name}(maximize=True): p.grad after step: exact {GRAD} (unchanged), "
              f"observed {after}" + ("  <-- DEVIATION" if changed else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: step() leaves p.grad alone")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
