"""torch.optim.Adam(fused=True) on CUDA forms 1 - beta1 and 1 - beta2 from float32 betas.

After one step from a fresh state, Adam's moments are m = (1 - beta1) g and v = (1 - beta2)
g^2, exactly. The for-loop and foreach paths form 1 - beta in binary64 and round the product
once: within an ulp of the exact value. The fused CUDA kernel rounds beta1 and beta2 to
float32 first (0.999 -> 0.99900001287) and subtracts in float32: v holds
(1 - float32(0.999)) g^2 = 0.00099998713 g^2, 111 float32 ulps below the exact 0.001 g^2
(about 1.3e-5 relative: float32's rounding of beta2 magnified by beta2 / (1 - beta2)); m is
3 ulps off the same way, and every later step carries both. The fused CPU kernel forms them
as the other paths do.

Run: python torch_adam_fused_cuda_float32_betas.py [Adam|AdamW]  (needs torch with a CUDA
device, and mpmath; exit status 1 = deviation, 2 = no CUDA device)
"""

import sys

import mpmath
import numpy as np
import torch

LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
GRAD = [1.0, -0.5, 3.0]
ULPS = 2  # a correct float32 moment after one step is within one rounding of the exact value


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: the fused CUDA kernel needs one; nothing was run")
        return 2
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    mpmath.mp.dps = 50
    b1, b2 = (mpmath.mpf(b) for b in BETAS)
    exact = {"m": [(1 - b1) * g for g in GRAD], "v": [(1 - b2) * mpmath.mpf(g) ** 2 for g in GRAD]}
    r1, r2 = (mpmath.mpf(float(np.float32(b))) for b in BETAS)
    rounded = {"m": [(1 - r1) * g for g in GRAD], "v": [(1 - r2) * mpmath.mpf(g) ** 2 for g in GRAD]}
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}: {cls.__name__}(lr={LR}, "
          f"betas={BETAS}, eps={EPS}), one step from a fresh state with grad = {GRAD}")
    deviates = False
    for path in ({"foreach": False}, {"foreach": True}, {"fused": True}):
        p = torch.nn.Parameter(torch.zeros(len(GRAD), device="cuda"))
        optimizer = cls([p], lr=LR, betas=BETAS, eps=EPS, **path)
        p.grad = torch.tensor(GRAD, device="cuda")
        optimizer.step()
        state = optimizer.state[p]
        for name, key in (("m", "exp_avg"), ("v", "exp_avg_sq")):
            observed = state[key].cpu().tolist()
            for i, value in enumerate(observed):
                ulp = mpmath.mpf(float(np.spacing(np.float32(abs(value)))))
                off = abs(mpmath.mpf(value) - exact[name][i]) / ulp
                wrong = off > ULPS
                deviates |= wrong
                print(f"{path}: {name}[{i}] exact {mpmath.nstr(exact[name][i], 17)}, observed "
                      f"{value!r} ({mpmath.nstr(off, 4)} ulps; (1 - float32(beta)) g"
                      f"{'^2' if name == 'v' else ''} = {mpmath.nstr(rounded[name][i], 12)})"
                      + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
