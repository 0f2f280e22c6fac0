"""timm's Lookahead syncs every tensor on its group's step count, not the tensor's own.

Lookahead (Zhang et al. 2019) pulls a tensor's fast weights towards its slow weights after
every k of its steps. timm/optim/lookahead.py counts steps per parameter group
('lookahead_step' += 1 after every inner step) and, when that count is a multiple of k,
updates every tensor of the group that has a gradient, creating its lookahead_slow_buff from
the fast weights at that first sync. A tensor without a gradient on some steps (a frozen
layer, an unused embedding row) is not stepped by the inner optimizer then, but the group's
count goes on: its slow weights are created and pulled at the group's phase of the cycle,
not after k of its own steps.

Two tensors with k = 2 over torch.optim.RAdam at its default betas (the first steps are
below the threshold: theta -= lr m_hat, and with a constant gradient g, m_hat = g exactly):
A has a gradient on every step, B none on the first. After four optimizer steps B has taken
three steps; its own cycle synced at its step 2 (creating its slow weights, theta unchanged),
so theta_B = theta_0 - 3 lr g exactly. timm created B's slow weights at the group's step 2
(B's step 1) and pulled it at the group's step 4 (B's step 3): theta_0 - 2 lr g.

Run: python timm_lookahead_group_step_count.py  (needs torch, timm; exit status 1 =
deviation)
"""

import importlib.metadata
import importlib.util
import sys
import types
from fractions import Fraction
from pathlib import Path

import torch

LR, THETA0, GRAD, K = 1e-3, 1.0, 1.0, 2


def timm_lookahead():
    """timm.optim.lookahead.Lookahead, imported without timm/__init__.py (which imports
    torchvision, not needed by the optimizers)."""
    if "timm" not in sys.modules:
        root = Path(next(iter(importlib.util.find_spec("timm").submodule_search_locations)))
        for name, folder in (("timm", root), ("timm.optim", root / "optim")):
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
    from timm.optim.lookahead import Lookahead

    return Lookahead


def main() -> int:
    print(f"timm {importlib.metadata.version('timm')}, torch {torch.__version__}")
    lookahead = timm_lookahead()
    a = torch.nn.Parameter(torch.tensor([THETA0], dtype=torch.float64))
    b = torch.nn.Parameter(torch.tensor([THETA0], dtype=torch.float64))
    optimizer = lookahead(torch.optim.RAdam([a, b], lr=LR, foreach=False), alpha=0.5, k=K)
    for step in range(1, 5):
        a.grad = torch.tensor([GRAD], dtype=torch.float64)
        b.grad = None if step == 1 else torch.tensor([GRAD], dtype=torch.float64)
        optimizer.step()
    lr_g = Fraction(LR) * Fraction(GRAD)
    # A: 4 steps, slow weights created at its step 2, pulled at its step 4:
    # theta_2 + (theta_4 - theta_2) / 2 = theta_0 - 3 lr g; B: 3 steps, created at its step 2
    exact = {"A": Fraction(THETA0) - 3 * lr_g, "B": Fraction(THETA0) - 3 * lr_g}
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
