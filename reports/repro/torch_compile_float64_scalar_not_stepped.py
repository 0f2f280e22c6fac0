"""torch.optim.Adam's step compiled by torch.compile leaves a 0-d float64 parameter, and its
moments, unchanged.

A 0-d tensor (a scalar parameter: a temperature, a learning-rate multiplier, a bias of one
element) is stepped as any other. Compiled (``torch.compile`` around ``optimizer.step()``,
as torch's compiled-optimizer recipe writes it), a float64 0-d parameter is not stepped at
all: after one step with gradient 1 at the default hyperparameters, m and v are still 0 and
theta is as it was, where the exact step gives m = 0.1, v = 0.001 and theta = 1 - lr. The
same parameter in float32, or a float64 tensor of three elements, is stepped; so is the
0-d float64 parameter by the eager step.

Run: python torch_compile_float64_scalar_not_stepped.py [Adam|AdamW]  (needs torch and a
C++ compiler for inductor; exit status 1 = deviation)
"""

import sys

import torch

LR = 1e-3


def stepped(cls: type, compiled: bool) -> tuple[float, float, float]:
    from torch._inductor.utils import fresh_cache

    torch._dynamo.reset()
    with fresh_cache():  # as on a fresh machine
        p = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))  # 0-d
        optimizer = cls([p], lr=LR, weight_decay=0.0, foreach=False)

        def step() -> None:
            optimizer.step()

        p.grad = torch.tensor(1.0, dtype=torch.float64)
        (torch.compile(step) if compiled else step)()
        state = optimizer.state[p]
        return p.item(), state["exp_avg"].item(), state["exp_avg_sq"].item()


def main() -> int:
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    # the exact step from theta = 1, m = v = 0 with g = 1: m = 0.1, v = 0.001, and
    # theta = 1 - lr m_hat / (sqrt(v_hat) + eps) = 1 - lr / (1 + 1e-8) (weight decay 0)
    exact = (1.0 - LR / (1.0 + 1e-8), 0.1, 0.001)
    print(f"torch {torch.__version__}: {cls.__name__}, a 0-d float64 parameter theta = 1, one "
          f"step with gradient 1 at the default hyperparameters, weight decay 0")
    deviates = False
    for compiled in (False, True):
        values = stepped(cls, compiled)
        wrong = [k for k, (x, e) in enumerate(zip(values, exact, strict=True))
                 if abs(x - e) > 1e-9 * abs(e)]  # binary32 scalars cost ~1e-9 of theta's step
        deviates |= compiled and bool(wrong)
        shown = ", ".join(f"{name}: exact {e!r}, observed {x!r}"
                          + ("  <-- DEVIATION" if k in wrong else "")
                          for k, (name, x, e) in enumerate(zip(("theta", "m", "v"), values, exact,
                                                               strict=True)))
        print(f"{'torch.compile' if compiled else 'eager':13}: {shown}")
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
