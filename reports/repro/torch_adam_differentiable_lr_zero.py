"""torch.optim.Adam(differentiable=True) with lr = 0 turns an element with a zero gradient
into NaN.

lr = 0 is a legal learning rate (a warm-up or a frozen phase): every step leaves theta
unchanged. With differentiable=True (and capturable=True) Adam forms its step as
denom = sqrt(v) / (sqrt(1 - beta2^t) * step_size_neg) + eps / step_size_neg with
step_size_neg = -lr / (1 - beta1^t) = -0, then param.addcdiv_(m, denom): for an element
whose gradients were all zero, m = 0 and denom = 0 / -0 + eps / -0 = NaN, and theta becomes
NaN. The for-loop path (differentiable=False) leaves theta unchanged.

Run: python torch_adam_differentiable_lr_zero.py [Adam|AdamW]  (needs torch; exit status
1 = deviation)
"""

import sys

import torch

THETA = [-1.0, 0.0, 0.5, 2.0]
GRAD = [-1.0, 0.0, 0.25, 0.0]  # the second and the fourth element have a zero gradient


def stepped(cls: type, differentiable: bool) -> list[float]:
    p = torch.nn.Parameter(torch.tensor(THETA, dtype=torch.float64))
    if differentiable:  # the differentiable path updates a tensor that carries autograd history
        p = p.clone()
    optimizer = cls([p], lr=0.0, foreach=False, differentiable=differentiable)
    p.grad = torch.tensor(GRAD, dtype=torch.float64)
    optimizer.step()
    return p.detach().tolist()


def main() -> int:
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    print(f"torch {torch.__version__}: {cls.__name__}(lr=0), one step from theta = {THETA} "
          f"with grad = {GRAD}; the exact step leaves theta unchanged")
    deviates = False
    for differentiable in (False, True):
        values = stepped(cls, differentiable)
        wrong = [i for i, (x, x0) in enumerate(zip(values, THETA, strict=True)) if x != x0]
        deviates |= bool(wrong)
        shown = ", ".join(f"theta[{i}]: exact {THETA[i]!r}, observed {values[i]!r}" for i in wrong)
        print(f"differentiable={differentiable!s:5}: " + (f"{shown}  <-- DEVIATION" if wrong
                                                         else "theta unchanged, as exact"))
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
