"""optimi.RAdam's Kahan summation overwrites the caller's gradient of a bfloat16 parameter.

For bfloat16 and float16 parameters optimi turns on Kahan-compensated updates by default
(kahan_sum=None). The update then uses p.grad as scratch space: grad.copy_(param) before
the parameter is updated, grad.sub_(param) after it, so after step() p.grad holds the
parameter's change with its sign flipped instead of the gradient, on every step and on
both the for-loop and the foreach path. Anything that reads p.grad after the step
(clipping statistics, logging, accumulation across step() calls, a second optimizer over
the same parameters) sees values the model never produced. With kahan_sum=False the
gradient is left alone. The update itself is within bfloat16's rounding of the exact step.

Run: python torch_optimi_kahan_grad_overwritten.py  (needs torch, torch-optimi;
exit status 1 = deviation)
"""

import importlib.metadata
import sys

import optimi
import torch

THETA = [0.5, -1.0, 2.0, 0.25]
GRAD = [-1.0, 0.0, -1.0, 0.5]  # exactly representable in bfloat16
STEPS = 3


def main() -> int:
    print(f"torch-optimi {importlib.metadata.version('torch-optimi')}, torch {torch.__version__}")
    deviates = False
    for foreach in (False, True):
        for kahan in (None, False):
            name = f"optimi.RAdam(foreach={foreach}, kahan_sum={kahan}), bfloat16"
            p = torch.nn.Parameter(torch.tensor(THETA, dtype=torch.bfloat16))
            optimizer = optimi.RAdam([p], lr=1e-3, foreach=foreach, kahan_sum=kahan)
            changed_at = []
            for t in range(1, STEPS + 1):
                p.grad = torch.tensor(GRAD, dtype=torch.bfloat16)
                optimizer.step()
                if p.grad.float().tolist() != GRAD:
                    changed_at.append((t, p.grad.float().tolist()))
            deviates |= bool(changed_at) and kahan is None
            if changed_at:
                t, after = changed_at[0]
                print(f"{name}: p.grad after step {t}: exact {GRAD} (unchanged), observed "
                      f"{after}; changed at steps {[s for s, _ in changed_at]}  <-- DEVIATION")
            else:
                print(f"{name}: p.grad unchanged after each of {STEPS} steps")
    print("DEVIATION reproduced" if deviates else "no deviation: step() leaves p.grad alone")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
