"""pytorch_optimizer.Ranger centralises gradients by default (use_gc=True), in place.

Ranger's documentation calls it 'RAdam with Lookahead and optional gradient centralization',
and use_gc=True is the default: before the moments are updated, every gradient with more than
one dimension has the mean over its other dimensions subtracted (Yong et al. 2020,
gradient_centralization.py: grad.add_(-grad.mean(dim=(1, ...), keepdim=True))). The moments
then follow another gradient than RAdam's (v = (1 - beta2) g^2 is not what the step stores)
and, as it is done on p.grad itself, the caller's gradient is changed too. One step of a 2x2
parameter whose gradient has a single nonzero element shows both; a 1-d tensor is not
centralised, and use_gc=False gives RAdam's moments.

Run: python pytorch_optimizer_ranger_gradient_centralization.py  (needs torch,
pytorch-optimizer; exit status 1 = deviation)
"""

import importlib.metadata
import sys
from fractions import Fraction

import torch
from pytorch_optimizer import Ranger

GRAD = [[1.0, 0.0], [0.0, 0.0]]
BETA2 = 0.999


def main() -> int:
    print(f"pytorch_optimizer {importlib.metadata.version('pytorch-optimizer')}, "
          f"torch {torch.__version__}")
    # v after step 1 is (1 - beta2) g^2, with 1 - beta2 exact as the binary64 value of BETA2
    exact_v = [[float((1 - Fraction(BETA2)) * Fraction(g) ** 2) for g in row] for row in GRAD]
    deviates = False
    for use_gc in (True, False):
        p = torch.nn.Parameter(torch.ones(2, 2, dtype=torch.float64))
        optimizer = Ranger([p], lr=1e-3, betas=(0.95, BETA2), use_gc=use_gc,
                           degenerated_to_sgd=True)
        p.grad = torch.tensor(GRAD, dtype=torch.float64)
        optimizer.step()
        observed_v = optimizer.state[p]["exp_avg_sq"].tolist()
        grad_after = p.grad.tolist()
        errors = [abs(o - e) for ro, re in zip(observed_v, exact_v, strict=True)
                  for o, e in zip(ro, re, strict=True)]
        wrong = max(errors) > 1e-18 or grad_after != GRAD
        deviates |= wrong and use_gc
        print(f"Ranger(use_gc={use_gc}), step 1 with gradient {GRAD}: v exact {exact_v}, "
              f"observed {observed_v}; p.grad after step: exact {GRAD} (unchanged), observed "
              f"{grad_after}" + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the moments are RAdam's")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
