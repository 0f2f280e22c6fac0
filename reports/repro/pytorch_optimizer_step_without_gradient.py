"""pytorch_optimizer.RAdam counts steps per parameter group, also for tensors without a gradient.

torch.optim semantics: a tensor whose .grad is None is not stepped, and its step count does
not advance. pytorch_optimizer keeps one counter per group and advances it on every step(),
so a tensor that receives its first gradient on the group's 6th step is updated as if it
had 6 steps of history: bias corrections for t = 6, and rho_6 = 5.99 >= 5 rectified, where
its exact first step (t = 1, rho_1 = 1 < 5) makes no update under the default
degenerated_to_sgd=False (an SGD step with degenerated_to_sgd=True). Realistic case: a
layer frozen (no gradient) for the first steps of training, then unfrozen.

Run: python pytorch_optimizer_step_without_gradient.py  (needs torch, pytorch-optimizer,
mpmath; exit status 1 = deviation)
"""

import importlib.metadata
import sys

import mpmath
import pytorch_optimizer
import torch

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8
THETA = [-1.0, -1.0, 0.0]
GRAD = [-1.0, 0.0, -1.0]
STEPS_WITHOUT_GRADIENT = 5
TOLERANCE = 8 * 2.0**-24  # relative: 8 float32 ulps, far above the rounding of one step


def exact_first_step(theta: float, grad: float, sgd: bool) -> mpmath.mpf:
    """The tensor's own step 1 (rho_1 = 1 < 5): no update, or theta - lr * m_hat with SGD."""
    mpmath.mp.dps = 50
    m_hat = (1 - mpmath.mpf(BETA1)) * mpmath.mpf(grad) / (1 - mpmath.mpf(BETA1))
    return mpmath.mpf(theta) - (mpmath.mpf(LR) * m_hat if sgd else 0)


def main() -> int:
    print(f"pytorch_optimizer {importlib.metadata.version('pytorch-optimizer')}, torch {torch.__version__}")
    print(f"theta = {THETA}: {STEPS_WITHOUT_GRADIENT} steps with grad None, then grad = {GRAD}")
    deviates = False
    for sgd in (False, True):
        p = torch.nn.Parameter(torch.tensor(THETA, dtype=torch.float32))
        optimizer = pytorch_optimizer.RAdam([p], lr=LR, betas=(BETA1, BETA2), eps=EPS,
                                            degenerated_to_sgd=sgd)
        for _ in range(STEPS_WITHOUT_GRADIENT):
            optimizer.step()  # no gradient: torch.optim leaves p and its step count alone
        p.grad = torch.tensor(GRAD, dtype=torch.float32)
        optimizer.step()
        print(f"degenerated_to_sgd={sgd}: group step counter {optimizer.param_groups[0]['step']} "
              "after the tensor's first gradient (exact: 1)")
        for i, value in enumerate(p.detach().tolist()):
            exact = exact_first_step(THETA[i], GRAD[i], sgd)
            wrong = abs(mpmath.mpf(value) - exact) > max(abs(exact), 1e-30) * TOLERANCE
            deviates |= wrong
            print(f"  theta[{i}]: exact {mpmath.nstr(exact, 17)}, observed {value!r}"
                  + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
