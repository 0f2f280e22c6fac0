"""torch-optimizer's Lookahead cannot step a parameter group added after it was built.

torch_optimizer/lookahead.py (0.3.0) sets group['counter'] = 0 in each group its inner
optimizer holds when the wrapper is built, and step() reads group['counter'] in every group.
add_param_group is torch.optim.Optimizer's, which adds the group to the same param_groups
list without that key: the next step() raises KeyError: 'counter', after the inner optimizer
has already stepped every group (so the parameters moved, but Lookahead's bookkeeping did not
run). Adding a group later is how a user unfreezes layers during fine-tuning.

Run: python torch_optimizer_lookahead_added_group.py  (needs torch, torch-optimizer; exit
status 1 = deviation)
"""

import importlib.metadata
import sys

import torch
import torch_optimizer


def main() -> int:
    print(f"torch-optimizer {importlib.metadata.version('torch-optimizer')}, "
          f"torch {torch.__version__}")
    first = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    later = torch.nn.Parameter(torch.tensor([0.5]))
    optimizer = torch_optimizer.Lookahead(torch.optim.RAdam([first], lr=1e-3), k=5, alpha=0.5)
    first.grad = torch.tensor([0.5, 0.5])
    optimizer.step()
    optimizer.add_param_group({"params": [later]})
    later.grad = torch.tensor([0.25])
    try:
        optimizer.step()
    except KeyError as error:
        print(f"step() after add_param_group: exact: both groups stepped (the new one counted "
              f"from its first step), observed: KeyError: {error}  <-- DEVIATION")
        print(f"  the inner optimizer stepped before the error: the added parameter is now "
              f"{later.detach().tolist()} (it was [0.5])")
        print("DEVIATION reproduced")
        return 1
    print("step() after add_param_group: exact and observed: both groups stepped")
    print("no deviation: a group added later is stepped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
