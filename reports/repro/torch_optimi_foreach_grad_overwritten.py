"""optimi.RAdam(foreach=True) overwrites the caller's gradient with its denominator.

On every rectified step the foreach path uses the gradient tensors as scratch space:
torch._foreach_copy_(grads, exp_avg_sqs), then sqrt and + eps, so after step() p.grad
holds sqrt(v_hat) + eps instead of the gradient (the for-loop path computes the
denominator in a new tensor and leaves p.grad alone). Anything that reads p.grad after
the step (clipping statistics, logging, accumulation across step() calls, a second
optimizer over the same parameters) sees values the model never produced. The update
itself is the exact step.

Run: python torch_optimi_foreach_grad_overwritten.py  (needs torch, torch-optimi;
exit status 1 = deviation)
"""

import importlib.metadata
import sys

import optimi
import torch

THETA = [0.5, -1.0, 2.0, 0.25]
GRAD = [-1.0, 0.0, -1.0, 0.5]
STEPS = 8  # betas (0.9, 0.99): rho_t first exceeds 5 at step 6, so steps 6 to 8 are rectified


def main() -> int:
    print(f"torch-optimi {importlib.metadata.version('torch-optimi')}, torch {torch.__version__}")
    deviates = False
    for name, foreach in (("optimi.RAdam (for-loop)", False), ("optimi.RAdam (foreach)", True)):
        p = torch.nn.Parameter(torch.tensor(THETA))
        optimizer = optimi.RAdam([p], lr=1e-3, foreach=foreach)
        changed_at = []
        for t in range(1, STEPS + 1):
            p.grad = torch.tensor(GRAD)
            optimizer.step()
            if p.grad.tolist() != GRAD:
                changed_at.append((t, p.grad.tolist()))
        deviates |= bool(changed_at) and foreach
        if changed_at:
            t, after = changed_at[0]
            print(f"{name}: p.grad after step {t}: exact {GRAD} (unchanged), observed {after}; "
                  f"changed at steps {[s for s, _ in changed_at]}  <-- DEVIATION")
        else:
            print(f"{name}: p.grad unchanged after each of {STEPS} steps")
    print("DEVIATION reproduced" if deviates else "no deviation: step() leaves p.grad alone")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
