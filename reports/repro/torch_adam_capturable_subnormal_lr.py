"""torch.optim.Adam(capturable=True) raises for a subnormal learning rate.

lr = 2^-149 (float32's smallest subnormal) is a legal learning rate: the exact step moves
theta by lr * m_hat / (sqrt(v_hat) + eps), which for theta = 1 rounds back to theta = 1 in
float32. The capturable path divides a float32 tensor by lr (torch._foreach_div(
bias_correction1, lr)); a division by a scalar is a multiplication by its reciprocal, and
1 / 2^-149 = 2^149 is beyond float32's range, so step() raises RuntimeError ("value cannot
be converted to type float without overflow") instead of stepping. The for-loop and foreach
paths step it.

Run: python torch_adam_capturable_subnormal_lr.py [Adam|AdamW]  (needs torch with a CUDA
device, and mpmath; exit status 1 = deviation, 2 = no CUDA device)
"""

import sys

import mpmath
import torch

LR, BETAS, EPS = 2.0**-149, (0.9, 0.999), 1e-8
THETA, GRAD = [1.0, -0.5, 0.25], [0.5, -1.0, 2.0]


def exact_first_step() -> list[mpmath.mpf]:
    """Adam's first step: m_hat = g, v_hat = g^2, theta - lr g / (|g| + eps) (50 digits)."""
    mpmath.mp.dps = 50
    lr, eps = mpmath.mpf(LR), mpmath.mpf(EPS)
    return [mpmath.mpf(t) - lr * mpmath.mpf(g) / (abs(mpmath.mpf(g)) + eps)
            for t, g in zip(THETA, GRAD, strict=True)]


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: capturable=True runs on CUDA only; nothing was run")
        return 2
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    exact = exact_first_step()
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}: {cls.__name__}(lr=2^-149, "
          f"betas={BETAS}, eps={EPS}), one step, theta = {THETA}, grad = {GRAD}")
    print("exact theta after the step: " + ", ".join(mpmath.nstr(e, 20) for e in exact)
          + " (each rounds to theta itself in float32)")
    deviates = False
    for path in ({"foreach": False}, {"foreach": True}, {"capturable": True}):
        p = torch.nn.Parameter(torch.tensor(THETA, device="cuda"))
        optimizer = cls([p], lr=LR, betas=BETAS, eps=EPS, **path)
        p.grad = torch.tensor(GRAD, device="cuda")
        try:
            optimizer.step()
        except RuntimeError as error:
            deviates = True
            print(f"{path}: step() raised RuntimeError: {error}  <-- DEVIATION")
            continue
        observed = p.detach().cpu().tolist()
        wrong = [i for i, e in enumerate(exact) if float(e) != observed[i]
                 and abs(mpmath.mpf(observed[i]) - e) > abs(e) * 2.0**-23]
        deviates |= bool(wrong)
        print(f"{path}: observed {observed}" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
