"""timm's RAdamLegacy steps float64 parameters in float32 arithmetic.

timm.optim.radam.RAdamLegacy (timm 1.0.31) works on p.float() and p.grad.float(), keeps
exp_avg and exp_avg_sq as float32 tensors ("state is always kept in fp32", also in
load_state_dict) and copies the result back into the parameter: a float64 parameter gets a
float32 update (one float32 ulp is 2^29 float64 ulps), and its moments are float32 values. For a
bfloat16 or float16 parameter that is float32 master arithmetic; for float64 it is a loss
of precision. One step from theta = 1 with gradient 0.1 (below the threshold, so an SGD step
with m_hat): the exact result is theta - lr * m_hat = 1 - lr * 0.1, and torch.optim.RAdam in
float64 is within a float64 ulp of it; 2 ulps are allowed here.

timm's package imports torchvision (which does not load beside torch 2.13's CPU build), so
this script imports timm/optim/radam.py from the installed distribution without running
timm/__init__.py (what radam-verify does to verify it).

Run: python timm_radam_legacy_float64_in_float32.py  (needs torch, timm installed with
--no-deps, mpmath; exit status 1 = deviation)
"""

import importlib.metadata
import importlib.util
import sys
import types
from pathlib import Path

import mpmath
import torch

LR, THETA, GRAD = 1e-3, 1.0, 0.1
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
    # step 1: m = (1 - b1) g, m_hat = m / (1 - b1) = g exactly; rho_1 = 1 < 5: theta - lr m_hat
    exact = mpmath.mpf(THETA) - mpmath.mpf(LR) * mpmath.mpf(GRAD)
    exact_v = (1 - mpmath.mpf(0.999)) * mpmath.mpf(GRAD) ** 2
    ulp = mpmath.mpf(2) ** (mpmath.floor(mpmath.log(abs(exact), 2)) - 52)
    legacy = radam_legacy()
    print(f"timm {importlib.metadata.version('timm')}, torch {torch.__version__}: float64 "
          f"parameter, lr={LR}, theta={THETA}, grad={GRAD}")
    deviates = False
    for name, make in (("torch.optim.RAdam", lambda p: torch.optim.RAdam([p], lr=LR)),
                       ("timm RAdamLegacy", lambda p: legacy([p], lr=LR))):
        p = torch.nn.Parameter(torch.full((1,), THETA, dtype=torch.float64))
        optimizer = make(p)
        p.grad = torch.full((1,), GRAD, dtype=torch.float64)
        optimizer.step()
        observed = float(p.detach()[0])
        held = optimizer.state[p]["exp_avg_sq"]
        error = abs(mpmath.mpf(observed) - exact) / ulp
        wrong = error > ALLOWED_ULPS
        deviates |= wrong and name.startswith("timm")
        print(f"{name}: theta after step 1: exact {mpmath.nstr(exact, 20)}, observed "
              f"{observed!r}, error {mpmath.nstr(error, 3)} float64 ulps (allowed "
              f"{ALLOWED_ULPS:g}); v held as {held.dtype}: exact {mpmath.nstr(exact_v, 20)}, "
              f"observed {float(held[0])!r}" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the float64 step is accurate")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
