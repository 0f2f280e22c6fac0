"""torch_optimizer.RAdam: a group added with add_param_group ignores its own beta2.

torch-optimizer caches (step, N_sma, step_size) in a group's 'buffer', indexed by
step % 10 and filled by whichever tensor reaches that step first. The constructor gives a
group whose betas differ from the defaults a buffer of its own, but add_param_group does
not: the added group takes the default buffer, shared with the groups that use the
default betas, so its rectification uses their rho_t and r_t, not its own beta2. The
exact step of each group uses that group's beta2 (and so does the same group passed to
the constructor).

Run: python torch_optimizer_shared_rectification_buffer.py  (needs torch, torch-optimizer,
mpmath; exit status 1 = deviation)
"""

import importlib.metadata
import sys

import mpmath
import torch
import torch_optimizer

LR, BETA1, EPS, STEPS, GRAD = 1e-3, 0.9, 1e-8, 8, 1.0
BETA2_FIRST, BETA2_SECOND = 0.999, 0.99
TOLERANCE = 8 * 2.0**-24  # relative: 8 float32 ulps, far above the rounding of a few steps


def exact_theta(beta2: float) -> mpmath.mpf:
    """theta after STEPS steps from 0 with a constant gradient: SGD below rho_t = 5, then
    rectified steps (decoupled decay is 0 here), all in exact arithmetic."""
    mpmath.mp.dps = 50
    b1, b2, lr, eps, g = (mpmath.mpf(x) for x in (BETA1, beta2, LR, EPS, GRAD))
    rho_inf = 2 / (1 - b2) - 1
    theta = m = v = mpmath.mpf(0)
    for t in range(1, STEPS + 1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        m_hat = m / (1 - b1**t)
        if rho_t >= 5:
            r_t = mpmath.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                              / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            theta -= lr * r_t * m_hat / (mpmath.sqrt(v / (1 - b2**t)) + eps)
        else:
            theta -= lr * m_hat
    return theta


def run(added: bool) -> float:
    """theta of a group with beta2=BETA2_SECOND beside a group with the default betas."""
    first, second = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    group = {"params": [second], "betas": (BETA1, BETA2_SECOND)}
    optimizer = torch_optimizer.RAdam([first] if added else [{"params": [first]}, group],
                                      lr=LR, betas=(BETA1, BETA2_FIRST), eps=EPS)
    if added:
        optimizer.add_param_group(group)
    params = [first, second]
    for _ in range(STEPS):
        for p in params:
            p.grad = torch.full((1,), GRAD)
        optimizer.step()
    return float(second.detach()[0])


def main() -> int:
    print(f"torch-optimizer {importlib.metadata.version('torch-optimizer')}, torch "
          f"{torch.__version__}: {STEPS} steps, constant gradient {GRAD}")
    exact = exact_theta(BETA2_SECOND)
    deviates = False
    for label, observed in (("passed to the constructor", run(added=False)),
                            ("added with add_param_group", run(added=True))):
        wrong = abs(mpmath.mpf(observed) - exact) > abs(exact) * TOLERANCE
        deviates |= wrong
        print(f"group with beta2={BETA2_SECOND}, {label}: theta exact {mpmath.nstr(exact, 17)}, "
              f"observed {observed!r}" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: each group uses its own beta2")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
