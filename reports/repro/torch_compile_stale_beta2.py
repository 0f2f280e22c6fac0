"""torch.optim.Adam's step compiled by torch.compile steps with a stale beta2 once a group's
beta2 has been set anew twice.

A training loop's schedule sets a group's hyperparameters in the live optimizer
(``optimizer.param_groups[0]["betas"] = ...``, as schedulers do for lr and momentum); the
next step must use them. Compiled as torch's compiled-optimizer recipe writes it
(``torch.compile`` around ``optimizer.step()``), the first change makes dynamo recompile
with beta2 as a dynamic input; at the second change inductor's graph cache hands back the
code compiled at the first, which multiplies v by the new beta2 but keeps 1 - beta2 as it
was then. Here beta2 is 0.999, then 0.99, then 0.9 for three steps: the third step computes
v = 0.9 v + 0.01 g^2 where 0.9 v + 0.1 g^2 is exact (the eager step's). The cache lives on
disk too: in a later process on the same machine a single change can already step with a
value an earlier process compiled. This script starts from an empty cache (torch's own
``torch._inductor.utils.fresh_cache``) so that it shows the same on any machine.

Run: python torch_compile_stale_beta2.py [Adam|AdamW]  (needs torch and a C++ compiler for
inductor; exit status 1 = deviation)
"""

import sys
from fractions import Fraction

import torch

GRADS = [[1.0, 1.0], [0.0, 1.0], [0.5, 0.5]]  # three steps of two elements
BETAS = [(0.9, 0.999), (0.9, 0.99), (0.9, 0.9)]  # the group's betas at each step


def exact_v() -> list[Fraction]:
    """v after the steps, with each step's beta2, in exact rational arithmetic."""
    v = [Fraction(0)] * 2
    for grads, (_, beta2) in zip(GRADS, BETAS, strict=True):
        b2 = Fraction(beta2)
        v = [b2 * x + (1 - b2) * Fraction(g) ** 2 for x, g in zip(v, grads, strict=True)]
    return v


def stepped(cls: type, compiled: bool) -> list[float]:
    from torch._inductor.utils import fresh_cache

    torch._dynamo.reset()
    with fresh_cache():
        return _stepped(cls, compiled)


def _stepped(cls: type, compiled: bool) -> list[float]:
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float32))
    optimizer = cls([p], lr=1e-3, betas=BETAS[0], foreach=False)

    def step() -> None:
        optimizer.step()

    run = torch.compile(step) if compiled else step
    for grads, betas in zip(GRADS, BETAS, strict=True):
        optimizer.param_groups[0]["betas"] = betas  # as a schedule sets them
        p.grad = torch.tensor(grads, dtype=torch.float32)
        run()
    return optimizer.state[p]["exp_avg_sq"].tolist()


def main() -> int:
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    exact = exact_v()
    print(f"torch {torch.__version__}: {cls.__name__}, float32, betas {BETAS[0]} for step 1, "
          f"then set to {BETAS[1]} and {BETAS[2]} for steps 2 and 3; v after step 3, gradients "
          f"{GRADS}")
    deviates = False
    for compiled in (False, True):
        v = stepped(cls, compiled)
        # within 2 float32 ulps of the exact value, the rounding of a correct step
        wrong = [i for i in range(2)
                 if abs(Fraction(v[i]) - exact[i]) > 2 * Fraction(2.0 ** -23) * exact[i]]
        deviates |= compiled and bool(wrong)
        shown = "; ".join(f"v[{i}]: exact {float(exact[i])!r}, observed {v[i]!r}"
                          + ("  <-- DEVIATION" if i in wrong else "") for i in range(2))
        print(f"{'torch.compile' if compiled else 'eager':13}: {shown}")
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
