"""torch.optim.Adam and AdamW decay a complex parameter as a complex number: a NaN in one
part reaches the other.

torch's optimizers step a complex parameter as pairs of independent reals (torch.view_as_real),
but _single_tensor_adam (torch/optim/adam.py, 2.13) applies the weight decay before that view:
L2's grad.add(param, alpha=weight_decay) and AdamW's param.mul_(1 - lr * weight_decay) are
complex products, (c + 0i)(a + bi) = (ca - 0 b) + (cb + 0 a) i, so a NaN or infinity in one
part makes the other NaN too (0 * NaN = NaN). Here the real part is the smallest float32
subnormal with a zero gradient: with eps = 0 its v underflows to 0 and its step is 0/0 = NaN,
which the float32 format cannot avoid (exact arithmetic keeps it: with lr = 0 theta is
unchanged); the imaginary part, with an ordinary gradient, must then stay where the exact step
puts it (lr = 0: unchanged, -1), as it does for the same pair of reals in a float32 tensor.

Run: python torch_adam_complex_decay_mixes_parts.py [Adam|AdamW]  (needs torch; exit status
1 = deviation)
"""

import sys

import torch

REAL, IMAG = 1.401298464324817e-45, -1.0  # the smallest float32 subnormal, and -1
GRADS = [(0.0, -1.0), (0.0, -1.0)]  # the real part's gradient is 0


def run(cls: type, complex_param: bool) -> float:
    """The imaginary part (or its real twin) after the steps, lr = 0, eps = 0, decay 1."""
    values = torch.tensor([REAL, IMAG], dtype=torch.float32)
    p = torch.nn.Parameter(torch.view_as_complex(values) if complex_param else values)
    optimizer = cls([p], lr=0.0, eps=0.0, weight_decay=1.0, foreach=False)
    for grad in GRADS:
        g = torch.tensor(grad, dtype=torch.float32)
        p.grad = torch.view_as_complex(g) if complex_param else g
        optimizer.step()
    pair = torch.view_as_real(p.detach()) if complex_param else p.detach()
    return float(pair[1])


def main() -> int:
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    print(f"torch {torch.__version__}: {cls.__name__}(lr=0, eps=0, weight_decay=1), the pair "
          f"({REAL!r}, {IMAG!r}) with gradients {GRADS}; exact: lr = 0 leaves the second "
          f"value {IMAG!r}")
    as_reals, as_complex = run(cls, False), run(cls, True)
    wrong = as_complex != IMAG
    print(f"float32 pair of reals: second value {as_reals!r}")
    print(f"complex64 number: imaginary part {as_complex!r}"
          + ("  <-- DEVIATION (the real part's NaN reached it)" if wrong else ""))
    print("DEVIATION reproduced" if wrong else "no deviation: the parts are stepped apart")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
