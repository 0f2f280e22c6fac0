"""torch.optim.Adam's step compiled by torch.compile turns an element with zero gradients
into NaN when lr = 0.

lr = 0 is a legal learning rate (a warm-up or a frozen phase): every step leaves theta
unchanged, as the eager for-loop step does. Compiled (``torch.compile`` around
``optimizer.step()``, as torch's compiled-optimizer recipe writes it), the step count is a
tensor and inductor's code forms the step as the capturable path does:
denom = sqrt(v) / (sqrt(1 - beta2^t) * step_size_neg) + eps / step_size_neg with
step_size_neg = -lr / (1 - beta1^t) = -0, then theta += m / denom. For an element whose
gradients were all zero, m = 0 and v = 0, so denom = 0 / -0 + eps / -0 = NaN and theta
becomes NaN; the next steps keep it so.

Run: python torch_compile_lr_zero.py [Adam|AdamW]  (needs torch and a C++ compiler for
inductor; exit status 1 = deviation)
"""

import math
import sys

import torch

THETA = [0.5, -1.0, 2.0]
GRADS = [[0.0, 0.25, 0.0], [0.0, -1.0, 0.5]]  # the first element's gradients are all zero


def stepped(cls: type, compiled: bool) -> list[float]:
    from torch._inductor.utils import fresh_cache

    torch._dynamo.reset()
    with fresh_cache():  # as on a fresh machine
        p = torch.nn.Parameter(torch.tensor(THETA, dtype=torch.float32))
        optimizer = cls([p], lr=0.0, foreach=False)

        def step() -> None:
            optimizer.step()

        run = torch.compile(step) if compiled else step
        for grads in GRADS:
            p.grad = torch.tensor(grads, dtype=torch.float32)
            run()
        return p.detach().tolist()


def main() -> int:
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    print(f"torch {torch.__version__}: {cls.__name__}(lr=0), float32, two steps from theta = "
          f"{THETA} with gradients {GRADS}; the exact steps leave theta unchanged")
    deviates = False
    for compiled in (False, True):
        values = stepped(cls, compiled)
        wrong = [i for i, (x, x0) in enumerate(zip(values, THETA, strict=True))
                 if math.isnan(x) or x != x0]
        deviates |= compiled and bool(wrong)
        shown = ", ".join(f"theta[{i}]: exact {THETA[i]!r}, observed {values[i]!r}" for i in wrong)
        print(f"{'torch.compile' if compiled else 'eager':13}: "
              + (f"{shown}  <-- DEVIATION" if wrong else "theta unchanged, as exact"))
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
