"""torch.optim.RAdam(capturable=True) forms rho_t from two different beta2s.

With capturable=True (CUDA) the step count is a float32 tensor on the device, so beta2^t is
torch._foreach_pow(beta2, steps): float32 arithmetic on beta2 rounded to float32 (0.999 ->
0.99900001287). rho_inf = 2 / (1 - beta2) - 1 is still formed in Python, in binary64, from
beta2 as given, and the two are combined: rho_t = rho_inf - 2 t b2^t / (1 - b2^t) with
rho_inf belonging to one beta2 and b2^t to another. Neither exact arithmetic on beta2 nor
exact arithmetic on float32(beta2) gives that rho_t: at beta2 = 0.999 and t = 1001 the
rectification term r_t moves by about 9e-6 relative, some 150 float32 ulps of the step, where
float32 arithmetic on either beta2 stays within a few. The for-loop path forms its schedule
in binary64 throughout.

The script takes one step at t = 1001 from a state with m = v = 1 and a zero gradient, and
compares the update with r_t computed in mpmath (50 digits) three ways: from beta2 (the
exact step), from float32(beta2) (exact arithmetic on the rounded beta, the float32-scalars
reading), and from the mix above.

Run: python torch_radam_capturable_mixed_betas.py  (needs torch with a CUDA device, and
mpmath; exit status 1 = deviation, 2 = no CUDA device)
"""

import sys

import mpmath
import numpy as np
import torch

LR, BETA1, BETA2, EPS, T = 1e-3, 0.9, 0.999, 1e-8, 1000  # the step taken is T + 1
ULPS = 16  # float32 ulps of the update a correct step may be off by (a few roundings)


def update(beta2: mpmath.mpf, beta2_power: mpmath.mpf, rho_inf: mpmath.mpf) -> mpmath.mpf:
    """lr * r_t * m_hat * sqrt(1 - b2^t) / (sqrt(v) + eps) at step T + 1 (torch's reading)."""
    t = T + 1
    m = mpmath.mpf(BETA1) * 1 + (1 - mpmath.mpf(BETA1)) * 0
    v = beta2 * 1 + (1 - beta2) * 0
    bc1 = 1 - mpmath.mpf(BETA1) ** t
    bc2 = 1 - beta2_power
    rho_t = rho_inf - 2 * t * beta2_power / bc2
    r_t = mpmath.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return mpmath.mpf(LR) * r_t * (m / bc1) * mpmath.sqrt(bc2) / (mpmath.sqrt(v) + mpmath.mpf(EPS))


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: capturable=True runs on CUDA only; nothing was run")
        return 2
    mpmath.mp.dps = 50
    exact_b2 = mpmath.mpf(BETA2)
    rounded_b2 = mpmath.mpf(float(np.float32(BETA2)))
    t = T + 1
    models = {
        "exact (beta2 as given)": update(exact_b2, exact_b2**t, 2 / (1 - exact_b2) - 1),
        "float32(beta2) throughout": update(rounded_b2, rounded_b2**t, 2 / (1 - rounded_b2) - 1),
        "mixed: rho_inf from beta2, b2^t from float32(beta2)":
            update(rounded_b2, rounded_b2**t, 2 / (1 - exact_b2) - 1),
    }
    p = torch.nn.Parameter(torch.zeros(1, device="cuda"))
    optimizer = torch.optim.RAdam([p], lr=LR, betas=(BETA1, BETA2), eps=EPS, capturable=True)
    p.grad = torch.zeros(1, device="cuda")
    optimizer.step()  # creates the state; then set it to step T with m = v = 1
    with torch.no_grad():
        p.zero_()
        state = optimizer.state[p]
        state["exp_avg"].fill_(1.0)
        state["exp_avg_sq"].fill_(1.0)
        state["step"].fill_(float(T))
    optimizer.step()
    observed = -mpmath.mpf(p.item())  # the update: theta went from 0 to -update
    ulp = mpmath.mpf(float(np.spacing(np.float32(abs(p.item())))))
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}: RAdam(capturable=True, "
          f"lr={LR}, betas=({BETA1}, {BETA2}), eps={EPS}), step {t} from m = v = 1, g = 0")
    print(f"observed update {mpmath.nstr(observed, 12)}")
    for name, value in models.items():
        print(f"  {name}: {mpmath.nstr(value, 12)} "
              f"(observed is {mpmath.nstr(abs(observed - value) / ulp, 4)} float32 ulps away)")
    exact = models["exact (beta2 as given)"]
    rounded = models["float32(beta2) throughout"]
    deviates = min(abs(observed - exact), abs(observed - rounded)) > ULPS * ulp
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
