"""pytorch-optimizer's Lookahead syncs every tensor on its group's step count, not its own.

Lookahead (Zhang et al. 2019) pulls a tensor's fast weights towards its slow weights after
every k of its steps. pytorch_optimizer/optimizer/lookahead.py keeps one 'counter' per
parameter group (+= 1 after every inner step, reset to 0 when it reaches k) and then updates
the group's tensors that have a gradient. A tensor without a gradient on some steps (a
frozen layer, an unused embedding row) is not stepped by the inner optimizer then, but the
group's counter goes on: it is pulled on the group's phase of the cycle, not after k of its
own steps.

Two tensors with k = 2 over torch.optim.RAdam at its default betas (the first steps are
below the threshold: theta -= lr m_hat, and with a constant gradient g, m_hat = g exactly),
slow weights theta_0 for both (cloned when the wrapper is built): A has a gradient on every
step, B none on the first. After four optimizer steps B has taken three steps; its own cycle
pulled it at its step 2 (to theta_0 - lr g), then it stepped once: theta_B = theta_0 -
2 lr g exactly. pytorch-optimizer pulled it at the group's steps 2 and 4 (B's steps 1 and
3): theta_0 - 1.5 lr g.

Run: python pytorch_optimizer_lookahead_group_counter.py  (needs torch, pytorch-optimizer;
exit status 1 = deviation)
"""

import importlib.metadata
import sys
from fractions import Fraction

import pytorch_optimizer
import torch

LR, THETA0, GRAD, K = 1e-3, 1.0, 1.0, 2


def main() -> int:
    print(f"pytorch-optimizer {importlib.metadata.version('pytorch-optimizer')}, "
          f"torch {torch.__version__}")
    a = torch.nn.Parameter(torch.tensor([THETA0], dtype=torch.float64))
    b = torch.nn.Parameter(torch.tensor([THETA0], dtype=torch.float64))
    optimizer = pytorch_optimizer.Lookahead(torch.optim.RAdam([a, b], lr=LR, foreach=False),
                                            k=K, alpha=0.5)
    for step in range(1, 5):
        a.grad = torch.tensor([GRAD], dtype=torch.float64)
        b.grad = None if step == 1 else torch.tensor([GRAD], dtype=torch.float64)
        optimizer.step()
    lr_g = Fraction(LR) * Fraction(GRAD)
    # A: pulled at its steps 2 (to theta_0 - lr g) and 4 (from theta_0 - 3 lr g, half-way
    # to theta_0 - lr g): theta_0 - 2 lr g; B: pulled at its step 2, then one step
    exact = {"A": Fraction(THETA0) - 2 * lr_g, "B": Fraction(THETA0) - 2 * lr_g}
    deviates = False
    for name, param in (("A", a), ("B", b)):
        observed = Fraction(param.item())
        off = abs(observed - exact[name]) > Fraction(1, 10**12)
        deviates |= off
        print(f"tensor {name} after 4 steps ({4 if name == 'A' else 3} of its own): exact "
              f"{float(exact[name])!r}, observed {float(observed)!r} = theta_0 - "
              f"{float((Fraction(THETA0) - observed) / lr_g):.6g} lr g"
              + ("  <-- DEVIATION" if off else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: every tensor follows its own cycle")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
