"""optimi.RAdam skips decoupled weight decay entirely where its factor is exactly 0.

With decouple_wd=True optimi computes the factor as weight_decay = 1 - lr * weight_decay
(decouple_lr=True: 1 - (lr / max_lr) * weight_decay) and then decides whether to decay with
`if weight_decay != 0`. Where the factor is exactly 0 (lr * weight_decay = 1, or
weight_decay = 1 with decouple_lr and lr = max_lr), that test is false and the parameter is
not multiplied at all, instead of being multiplied by 0: the decayed part of theta survives
in full. The exact decoupled step is theta' = (1 - lr * wd) theta - lr * m_hat (here, at the
first step, an SGD step with m_hat = g).

Run: python torch_optimi_decay_factor_zero.py  (needs torch, torch-optimi; exit status 1 =
deviation)
"""

import importlib.metadata
import sys
import warnings
from fractions import Fraction

import optimi
import torch

THETA = [-1.0, 0.5, 2.0]
GRAD = [-1.0, 0.0, 0.25]


def exact(lr, factor):
    """theta' = factor * theta - lr * g, in exact rational arithmetic (step 1: m_hat = g)."""
    return [float(Fraction(factor) * Fraction(t) - Fraction(lr) * Fraction(g))
            for t, g in zip(THETA, GRAD, strict=True)]


def main() -> int:
    print(f"torch-optimi {importlib.metadata.version('torch-optimi')}, torch {torch.__version__}")
    deviates = False
    cases = (  # (what, keywords, lr, the exact decay factor)
        ("decouple_wd=True, lr=1, weight_decay=1",
         {"lr": 1.0, "weight_decay": 1.0, "decouple_wd": True}, 1.0, 0.0),
        ("decouple_wd=True, lr=0.5, weight_decay=1",
         {"lr": 0.5, "weight_decay": 1.0, "decouple_wd": True}, 0.5, 0.5),
        ("decouple_lr=True, lr=1e-3, weight_decay=1",
         {"lr": 1e-3, "weight_decay": 1.0, "decouple_lr": True}, 1e-3, 0.0))
    for name, kwargs, lr, factor in cases:
        p = torch.nn.Parameter(torch.tensor(THETA, dtype=torch.float64))
        with warnings.catch_warnings():  # decouple_lr warns that weight_decay = 1 is high
            warnings.simplefilter("ignore", UserWarning)
            optimizer = optimi.RAdam([p], foreach=False, triton=False, **kwargs)
        p.grad = torch.tensor(GRAD, dtype=torch.float64)
        optimizer.step()
        observed, want = p.tolist(), exact(lr, factor)
        wrong = any(abs(o - w) > 1e-12 for o, w in zip(observed, want, strict=True))
        deviates |= wrong
        print(f"optimi.RAdam({name}) (decay factor {factor}): theta after step 1: exact {want}, "
              f"observed {observed}" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the decay factor is applied")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
