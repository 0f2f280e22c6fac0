"""torch.optim.Adam(fused=True) on the CPU steps strided tensors as if they were contiguous.

A parameter that is a view with a step (here every 3rd element of a buffer, as a column of a
matrix or a slice of a larger weight is) is stepped correctly by the for-loop and foreach
paths. The fused CPU kernel walks the view's elements as consecutive storage: it writes
into elements outside the view (which must stay untouched) and leaves the view's own
elements with values from the wrong positions. It reads a gradient the same way: a
contiguous 3 x 4 parameter whose gradient is stored transposed (strides (1, 3)) is stepped
with the gradient's elements in storage order, each paired with the wrong parameter element.
The first step of Adam with eps = 0 is exactly theta - lr * sign(g) per element (derivation
claim ``adam-first-step-sign``), so the exact value needs no reference implementation here.
A correct float32 step is within a few ulps of it (the bias corrections round); the script
allows 8 float32 ulps of |theta| + lr.

Run: python torch_adam_fused_strided_view.py [Adam|AdamW]  (needs torch; exit status 1 =
deviation)
"""

import sys

import torch

LR = 0.125  # a power of 2: theta - lr * sign(g) is exact in float32
STRIDE, SIZE, CANARY = 3, 8, 7.0
TOLERANCE = 8 * 2.0**-24 * (1.0 + LR)  # |theta| <= 1
THETA0 = torch.arange(SIZE, dtype=torch.float32) / 4 - 1  # exact in float32
GRAD = torch.linspace(0.5, -0.5, SIZE)  # no zero: sign(g) is +-1


def run(cls: type, fused: bool) -> tuple[torch.Tensor, torch.Tensor]:
    storage = torch.full((STRIDE * SIZE,), CANARY)
    view = storage[1::STRIDE]  # every 3rd element, from the 2nd
    view.copy_(THETA0)
    param = torch.nn.Parameter(view)  # shares the storage, as a module's strided weight does
    assert param.data_ptr() == view.data_ptr()
    assert param.stride() == (STRIDE,)
    optimizer = cls([param], lr=LR, eps=0.0, weight_decay=0.0, fused=fused)
    param.grad = GRAD.clone()
    optimizer.step()
    return storage, param.detach().clone()


def transposed_gradient(cls: type, fused: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A contiguous 3 x 4 parameter, its gradient a 3 x 4 view of transposed storage."""
    theta = (torch.arange(12, dtype=torch.float32) / 8 - 0.75).reshape(3, 4)
    grad = torch.linspace(0.5, -0.5, 12).reshape(3, 4)
    grad[grad == 0] = 0.25  # no zero: sign(g) is +-1
    grad = grad.t().contiguous().t()  # the same values, stored column by column
    assert grad.stride() == (1, 3)
    param = torch.nn.Parameter(theta.clone())
    optimizer = cls([param], lr=LR, eps=0.0, weight_decay=0.0, fused=fused)
    param.grad = grad
    optimizer.step()
    return param.detach().clone(), theta - LR * torch.sign(grad)


def main() -> int:
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    exact = THETA0 - LR * torch.sign(GRAD)  # Adam's first step with eps = 0: exact here
    print(f"torch {torch.__version__}: {cls.__name__}(lr={LR}, eps=0), one step on every "
          f"{STRIDE}rd element of a buffer of {STRIDE * SIZE} (the others hold {CANARY})")
    deviates = False
    for fused in (False, True):
        storage, stepped = run(cls, fused)
        outside = [i for i in range(STRIDE * SIZE) if i % STRIDE != 1]
        changed = [i for i in outside if storage[i].item() != CANARY]
        wrong = [i for i in range(SIZE) if not abs(stepped[i].item() - exact[i].item()) <= TOLERANCE]
        bad = bool(changed or wrong)
        deviates |= bad
        print(f"fused={fused!s:5}: elements outside the view changed: {changed or 'none'}; "
              f"view elements off the exact step: {wrong or 'none'}"
              + ("  <-- DEVIATION" if bad else ""))
        if wrong:
            i = wrong[0]
            print(f"    theta[{i}]: exact {exact[i].item()!r}, observed {stepped[i].item()!r}")
    print("a contiguous 3 x 4 parameter with its gradient stored transposed:")
    for fused in (False, True):
        stepped, exact2 = transposed_gradient(cls, fused)
        wrong2 = [tuple(i) for i in (~((stepped - exact2).abs() <= TOLERANCE)).nonzero().tolist()]
        deviates |= bool(wrong2)
        print(f"fused={fused!s:5}: elements off the exact step: {len(wrong2)} of 12"
              + ("  <-- DEVIATION" if wrong2 else ""))
        if wrong2:
            i, j = wrong2[0]
            print(f"    theta[{i}, {j}]: exact {exact2[i, j].item()!r}, observed "
                  f"{stepped[i, j].item()!r}")
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
