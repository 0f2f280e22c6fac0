"""pytorch-ranger's Ranger gives every parameter group the step size of the first group.

pytorch_ranger/ranger.py (0.1.1) caches (step, N_sma, step_size) in one ``self.radam_buffer``
for the whole optimizer, indexed by ``step % 10`` and filled by whichever tensor reaches
that step first; a group whose betas differ from that tensor's takes its N_sma and step
size (here 1 / (1 - beta1^t) of the first group on the SGD steps before the threshold)
instead of its own. One step of two groups with beta1 = 0.9 and beta1 = 0: the exact step of
the second group is theta - lr * m_hat = theta - lr * g (m_hat = g whatever beta1 is, at
t = 1).

Run: python pytorch_ranger_shared_step_size.py  (needs torch, pytorch-ranger; exit status
1 = deviation)
"""

import importlib.metadata
import sys

import torch
from pytorch_ranger import Ranger

LR, THETA, GRAD = 1e-3, -1.0, 1.0


def main() -> int:
    first = torch.nn.Parameter(torch.full((1,), THETA, dtype=torch.float64))
    second = torch.nn.Parameter(torch.full((1,), THETA, dtype=torch.float64))
    optimizer = Ranger([{"params": [first], "betas": (0.9, 0.999)},
                        {"params": [second], "betas": (0.0, 0.999)}], lr=LR)
    first.grad = torch.full((1,), GRAD, dtype=torch.float64)
    second.grad = torch.full((1,), GRAD, dtype=torch.float64)
    optimizer.step()
    exact = THETA - LR * GRAD  # step 1 is below the threshold: theta - lr m_hat, m_hat = g
    observed = float(second.detach()[0])
    wrong = abs(observed - exact) > 1e-12
    print(f"pytorch-ranger {importlib.metadata.version('pytorch-ranger')}: group 2 (beta1 = 0) "
          f"after step 1: exact {exact!r}, observed {observed!r}"
          + ("  <-- DEVIATION (the first group's step size 1 / (1 - 0.9))" if wrong else ""))
    print("DEVIATION reproduced" if wrong else "no deviation: each group steps with its own betas")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
