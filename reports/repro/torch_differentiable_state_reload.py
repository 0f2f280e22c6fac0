"""torch.optim.RAdam (and Adam) with differentiable=True and weight decay cannot step after
load_state_dict.

With differentiable=True and weight_decay > 0 the decayed gradient g + wd * theta carries
autograd history, so exp_avg and exp_avg_sq do too. torch.save stores them as tensors that
require grad; loaded back they are leaf tensors that require grad, and the next step's
in-place exp_avg.lerp_ raises (Adam's in-place update of its moments raises the same way).
The exact step after a reload is the step the uninterrupted optimizer takes; a state saved
with state_dict() should continue exactly.

Run: python torch_differentiable_state_reload.py [RAdam|Adam]  (default RAdam; needs torch
and mpmath; exit status 1 = deviation)
"""

import io
import sys

import mpmath
import torch

LR, BETA1, BETA2, EPS, WD = 1e-3, 0.9, 0.999, 1e-8, 0.1
THETA, GRAD = [1.0, 2.0], [0.5, 0.5]


def exact_two_steps(adam: bool) -> list[mpmath.mpf]:
    """Two exact steps with L2 decay: RAdam's (pytorch convention: both below the threshold
    5, SGD steps with m_hat) or Adam's (m_hat / (sqrt(v_hat) + eps))."""
    mpmath.mp.dps = 50
    b1, b2, lr, wd, eps = (mpmath.mpf(x) for x in (BETA1, BETA2, LR, WD, EPS))
    out = []
    for theta, grad in zip(THETA, GRAD, strict=False):
        theta, m, v = mpmath.mpf(theta), mpmath.mpf(0), mpmath.mpf(0)
        for t in (1, 2):  # rho_1 = 1 and rho_2 < 5: RAdam's both steps are SGD steps
            g = mpmath.mpf(grad) + wd * theta
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            m_hat = m / (1 - b1**t)
            theta -= lr * (m_hat / (mpmath.sqrt(v / (1 - b2**t)) + eps) if adam else m_hat)
        out.append(theta)
    return out


def optimizer(cls: type, w: torch.Tensor) -> torch.optim.Optimizer:
    return cls([w], lr=LR, betas=(BETA1, BETA2), eps=EPS, weight_decay=WD, differentiable=True)


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "RAdam"
    cls = getattr(torch.optim, name)
    print(f"torch {torch.__version__}: {name}(differentiable=True, weight_decay={WD})")
    w = torch.tensor(THETA, requires_grad=True).clone()  # a non-leaf, as in differentiable use
    first = optimizer(cls, w)
    w.grad = torch.tensor(GRAD)
    first.step()
    saved = io.BytesIO()
    torch.save(first.state_dict(), saved)
    resumed_w = w.detach().clone().requires_grad_(True).clone()
    resumed = optimizer(cls, resumed_w)
    resumed.load_state_dict(torch.load(io.BytesIO(saved.getvalue()), weights_only=False))
    resumed_w.grad = torch.tensor(GRAD)
    try:
        resumed.step()
        observed = resumed_w.detach().tolist()
        error = None
    except RuntimeError as raised:
        observed, error = None, f"{type(raised).__name__}: {raised}"
    for i, exact in enumerate(exact_two_steps(adam=name.startswith("Adam"))):
        shown = error if observed is None else repr(observed[i])
        print(f"theta[{i}] after step 2 (state saved after step 1 and loaded): exact "
              f"{mpmath.nstr(exact, 17)}, observed {shown}" + ("  <-- DEVIATION" if error else ""))
    print("DEVIATION reproduced" if error else "no deviation: the reloaded optimizer steps")
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
