"""timm's RAdamLegacy rounds lr * weight_decay to float32 before the decoupled decay.

timm.optim.radam.RAdamLegacy (timm 1.0.31) decays with p_fp32.add_(p_fp32,
alpha=-weight_decay * lr), torch-optimizer's form: the coefficient is rounded to float32 and
theta - c * theta is formed in float32, so when lr * weight_decay is close to 1 the decay
factor 1 - lr * weight_decay loses accuracy to cancellation (an absolute error of half a
float32 ulp of c, against a factor much smaller than c). The exact decay is
theta * (1 - lr * weight_decay); computing the factor in binary64 and multiplying once (as
torch.optim.RAdam(decoupled_weight_decay=True) does) rounds twice, an error of at most about
1 float32 ulp; 2 ulps are allowed here. The step below makes no other update (zero
gradient, first step), so the decay is all that changes theta.

timm's package imports torchvision (which does not load beside torch 2.13's CPU build), so
this script imports timm/optim/radam.py from the installed distribution without running
timm/__init__.py (what radam-verify does to verify it).

Run: python timm_radam_legacy_decay_factor_rounding.py  (needs torch, timm installed with
--no-deps, mpmath; exit status 1 = deviation)
"""

import importlib.metadata
import importlib.util
import sys
import types
from pathlib import Path

import mpmath
import torch

LR, WEIGHT_DECAY, THETA = 1.0, 0.9646616199111993, -1.0
ALLOWED_ULPS = 2.0


def radam_legacy() -> type:
    """timm.optim.radam.RAdamLegacy, from the installed files, without timm/__init__.py."""
    found = importlib.util.find_spec("timm")
    if found is None or not found.submodule_search_locations:
        raise SystemExit("timm is not installed (pip install --no-deps timm)")
    root = Path(next(iter(found.submodule_search_locations)))
    for name, folder in (("timm", root), ("timm.optim", root / "optim")):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        sys.modules[name] = package
    from timm.optim.radam import RAdamLegacy

    return RAdamLegacy


def main() -> int:
    mpmath.mp.dps = 50
    exact = mpmath.mpf(THETA) * (1 - mpmath.mpf(LR) * mpmath.mpf(WEIGHT_DECAY))
    ulp = mpmath.mpf(2) ** (mpmath.floor(mpmath.log(abs(exact), 2)) - 23)
    legacy = radam_legacy()
    print(f"timm {importlib.metadata.version('timm')}, torch {torch.__version__}: lr={LR}, "
          f"weight_decay={WEIGHT_DECAY}, theta={THETA}, grad 0")
    deviates = False
    for name, make in (
            ("torch.optim.RAdam(decoupled_weight_decay=True)",
             lambda p: torch.optim.RAdam([p], lr=LR, weight_decay=WEIGHT_DECAY,
                                         decoupled_weight_decay=True)),
            ("timm RAdamLegacy", lambda p: legacy([p], lr=LR, weight_decay=WEIGHT_DECAY))):
        p = torch.nn.Parameter(torch.full((1,), THETA))
        optimizer = make(p)
        p.grad = torch.zeros(1)
        optimizer.step()
        observed = float(p.detach()[0])
        error = abs(mpmath.mpf(observed) - exact) / ulp
        wrong = error > ALLOWED_ULPS
        deviates |= wrong and name.startswith("timm")
        print(f"{name}: theta after step 1: exact {mpmath.nstr(exact, 17)}, observed "
              f"{observed!r}, error {mpmath.nstr(error, 3)} float32 ulps (allowed "
              f"{ALLOWED_ULPS:g})" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the decay is accurate")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
