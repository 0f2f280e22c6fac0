"""torch-optimizer's Lookahead syncs every tensor of a group, with or without a gradient.

Lookahead (Zhang et al. 2019) pulls a tensor's fast weights towards its slow weights after
every k of its steps. torch_optimizer/lookahead.py keeps one 'counter' per parameter group
and, when it is 0 (after the group's steps 1, k + 1, 2k + 1, ...), runs _update on every
tensor of the group, whether the inner optimizer stepped it or not: a tensor without a
gradient at the group's first step (a frozen layer, an unused embedding row) gets
slow_param = theta_0, and is pulled towards it on the group's phase of the cycle, not after
its own first step and every k of its own steps after it.

Two tensors with k = 2 over torch.optim.RAdam at its default betas (the first steps are
below the threshold: theta -= lr m_hat, and with a constant gradient g, m_hat = g exactly):
A has a gradient on every step, B none on the first. After three optimizer steps B has
taken two steps of its own, after its first step its slow weights were set (theta
unchanged), and its next sync is at its step 3: theta_B = theta_0 - 2 lr g exactly.
torch-optimizer set B's slow weights to theta_0 at the group's step 1 and pulled B at the
group's step 3: theta_0 - lr g.

Run: python torch_optimizer_lookahead_group_counter.py  (needs torch, torch-optimizer; exit
status 1 = deviation)
"""

import importlib.metadata
import sys
from fractions import Fraction

import torch
import torch_optimizer

LR, THETA0, GRAD, K = 1e-3, 1.0, 1.0, 2


def main() -> int:
    print(f"torch-optimizer {importlib.metadata.version('torch-optimizer')}, "
          f"torch {torch.__version__}")
    a = torch.nn.Parameter(torch.tensor([THETA0], dtype=torch.float64))
    b = torch.nn.Parameter(torch.tensor([THETA0], dtype=torch.float64))
    optimizer = torch_optimizer.Lookahead(torch.optim.RAdam([a, b], lr=LR, foreach=False),
                                          k=K, alpha=0.5)
    for step in range(1, 4):
        a.grad = torch.tensor([GRAD], dtype=torch.float64)
        b.grad = None if step == 1 else torch.tensor([GRAD], dtype=torch.float64)
        optimizer.step()
    lr_g = Fraction(LR) * Fraction(GRAD)
    # A: 3 steps, slow weights set after its step 1, pulled at its step 3:
    # theta_1 + (theta_3 - theta_1) / 2 = theta_0 - 2 lr g; B: 2 steps, set after its step 1
    exact = {"A": Fraction(THETA0) - 2 * lr_g, "B": Fraction(THETA0) - 2 * lr_g}
    deviates = False
    for name, param in (("A", a), ("B", b)):
        observed = Fraction(param.item())
        off = abs(observed - exact[name]) > Fraction(1, 10**12)
        deviates |= off
        print(f"tensor {name} after 3 steps ({3 if name == 'A' else 2} of its own): exact "
              f"{float(exact[name])!r}, observed {float(observed)!r} = theta_0 - "
              f"{float((Fraction(THETA0) - observed) / lr_g):.6g} lr g"
              + ("  <-- DEVIATION" if off else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: every tensor follows its own cycle")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
