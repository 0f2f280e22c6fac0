"""bitsandbytes' LAMB never steps a tensor whose norm is zero.

LAMB (You et al. 2020) scales each tensor's step by the trust ratio phi(||theta||) / ||u||,
which is undefined where a norm is zero; every implementation this suite reads (the paper's
reference code, optax, timm, torch-optimizer, Keras) takes the ratio 1 there, so a tensor
initialised to zeros (biases, LayerNorm shifts, zero-initialised projections) takes Adam's
step. bitsandbytes.optim.LAMB on the CPU backend (bitsandbytes/backends/cpu/ops.py,
_compute_update_norm_and_scale) returns max_unorm ||theta|| / ||u|| whenever ||u|| exceeds
max_unorm ||theta||, which for ||theta|| = 0 is a scale of 0: the tensor stays at zero for
ever. One step of theta = 0 with gradient 1: the exact step is -lr m_hat / (sqrt(v_hat) +
eps) with m_hat = g and v_hat = g^2 at step 1, here -lr / (1 + eps), in exact rational
arithmetic on the binary64 inputs.

Run: python bitsandbytes_lamb_zero_norm_never_steps.py  (needs torch, bitsandbytes; exit
status 1 = deviation)
"""

import importlib.metadata
import sys
from fractions import Fraction

import torch

LR, EPS, SIZE = 1e-3, 1e-8, 4


def main() -> int:
    import bitsandbytes

    print(f"bitsandbytes {importlib.metadata.version('bitsandbytes')}, torch {torch.__version__}: "
          f"LAMB(lr={LR}, eps={EPS}), float32 parameter of {SIZE} zeros, gradient 1")
    p = torch.nn.Parameter(torch.zeros(SIZE))
    optimizer = bitsandbytes.optim.LAMB([p], lr=LR, eps=EPS)
    p.grad = torch.ones(SIZE)
    optimizer.step()
    # u = m_hat / (sqrt(v_hat) + eps) = 1 / (1 + eps) exactly; the ratio is 1 (||theta|| = 0)
    exact = -Fraction(LR) / (1 + Fraction(EPS))
    observed = p.detach().tolist()
    # float32 rounds the exact value by half an ulp at most: 2^-34 at this magnitude
    off = any(abs(Fraction(x) - exact) > Fraction(1, 2**33) for x in observed)
    print(f"theta after one step: exact {float(exact)!r} (each element), observed {observed}"
          + ("  <-- DEVIATION: the tensor is never stepped" if off else ""))
    print("DEVIATION reproduced" if off else "no deviation: a tensor of zeros takes Adam's step")
    return 1 if off else 0


if __name__ == "__main__":
    sys.exit(main())
