"""bitsandbytes' 32-bit Adam steps float64 parameters in float32 arithmetic.

bitsandbytes.optim.AdamW32bit (and Adam32bit, AdamW(optim_bits=32)) on the CPU backend
(bitsandbytes 0.50.2, ``bitsandbytes/backends/cpu/ops.py``) keeps its states ``state1`` and
``state2`` (m and v) as float32 tensors whatever the parameter's dtype, and computes the
update on ``p.data.float()`` before copying it back: a float64 parameter gets a float32
update (one float32 ulp is 2^29 float64 ulps), and its moments are float32 values. One step
from theta = 1 with gradient 0.1: the exact step is theta - lr m_hat / (sqrt(v_hat) + eps)
with m_hat = g and v_hat = g^2 at step 1, computed here in mpmath; torch.optim.AdamW in
float64 is within a float64 ulp of it; 2 ulps are allowed.

Run: python bitsandbytes_float64_in_float32.py  (needs torch, bitsandbytes, mpmath; exit
status 1 = deviation)
"""

import importlib.metadata
import sys

import mpmath
import torch

LR, THETA, GRAD, EPS = 1e-3, 1.0, 0.1, 1e-8
BETA1, BETA2 = 0.9, 0.999
ALLOWED_ULPS = 2.0


def main() -> int:
    import bitsandbytes

    mpmath.mp.dps = 50
    b1, b2, g = mpmath.mpf(BETA1), mpmath.mpf(BETA2), mpmath.mpf(GRAD)
    m, v = (1 - b1) * g, (1 - b2) * g**2
    m_hat, v_hat = m / (1 - b1), v / (1 - b2)  # step 1: the bias corrections undo the betas
    exact = mpmath.mpf(THETA) - mpmath.mpf(LR) * m_hat / (mpmath.sqrt(v_hat) + mpmath.mpf(EPS))
    ulp = mpmath.mpf(2) ** (mpmath.floor(mpmath.log(abs(exact), 2)) - 52)
    print(f"bitsandbytes {importlib.metadata.version('bitsandbytes')}, torch {torch.__version__}: "
          f"float64 parameter, lr={LR}, theta={THETA}, grad={GRAD}, no weight decay")
    deviates = False
    makers = (("torch.optim.AdamW", lambda p: torch.optim.AdamW([p], lr=LR, weight_decay=0.0)),
              ("bitsandbytes AdamW32bit",
               lambda p: bitsandbytes.optim.AdamW32bit([p], lr=LR, weight_decay=0.0)))
    for name, make in makers:
        p = torch.nn.Parameter(torch.full((1,), THETA, dtype=torch.float64))
        optimizer = make(p)
        p.grad = torch.full((1,), GRAD, dtype=torch.float64)
        optimizer.step()
        observed = float(p.detach()[0])
        state = optimizer.state[p]
        held = state["exp_avg_sq"] if "exp_avg_sq" in state else state["state2"]
        error = abs(mpmath.mpf(observed) - exact) / ulp
        wrong = error > ALLOWED_ULPS
        deviates |= wrong and name.startswith("bitsandbytes")
        print(f"{name}: theta after step 1: exact {mpmath.nstr(exact, 20)}, observed "
              f"{observed!r}, error {mpmath.nstr(error, 3)} float64 ulps (allowed "
              f"{ALLOWED_ULPS:g}); v held as {held.dtype}: exact {mpmath.nstr(v, 20)}, "
              f"observed {float(held[0])!r}" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the float64 step is accurate")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
