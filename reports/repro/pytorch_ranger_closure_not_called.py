"""pytorch-ranger's Ranger.step(closure) never calls its closure.

torch.optim.Optimizer.step(closure) re-evaluates the model through the closure and returns
its loss (optimizers such as LBFGS need it; training loops pass it to every optimizer).
pytorch_ranger/ranger.py (0.1.1) has the two lines that would do it commented out, so a
closure is ignored and step() returns None.

Run: python pytorch_ranger_closure_not_called.py  (needs torch, pytorch-ranger; exit status
1 = deviation)
"""

import importlib.metadata
import sys

import torch
from pytorch_ranger import Ranger


def main() -> int:
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = Ranger([p], lr=1e-3)
    calls = []

    def closure() -> torch.Tensor:
        calls.append(1)
        optimizer.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    p.grad = torch.zeros_like(p)
    returned = optimizer.step(closure)
    wrong = len(calls) != 1 or returned is None
    print(f"pytorch-ranger {importlib.metadata.version('pytorch-ranger')}: step(closure) called "
          f"the closure {len(calls)} time(s) and returned {returned!r}; exact contract: one "
          "call, and the closure's loss returned" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if wrong else "no deviation: the closure is called once")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
