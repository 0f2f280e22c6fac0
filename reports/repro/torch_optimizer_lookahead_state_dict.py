"""torch-optimizer's Lookahead cannot save its state: state_dict() raises AttributeError.

torch_optimizer/lookahead.py (0.3.0) subclasses torch.optim.Optimizer without calling its
__init__, and its state_dict() calls Optimizer.state_dict(self) for the slow weights. Since
torch 2.0, Optimizer.state_dict runs the hooks registered in
self._optimizer_state_dict_pre_hooks, an attribute Optimizer.__init__ creates: the call
raises AttributeError, so a training run wrapped in this Lookahead cannot be checkpointed or
resumed (load_state_dict needs a state dict, too).

Run: python torch_optimizer_lookahead_state_dict.py  (needs torch, torch-optimizer; exit
status 1 = deviation)
"""

import importlib.metadata
import sys

import torch
import torch_optimizer


def main() -> int:
    print(f"torch-optimizer {importlib.metadata.version('torch-optimizer')}, "
          f"torch {torch.__version__}")
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = torch_optimizer.Lookahead(torch.optim.RAdam([p], lr=1e-3), k=5, alpha=0.5)
    p.grad = torch.tensor([0.5, 0.5])
    optimizer.step()
    try:
        state = optimizer.state_dict()
    except AttributeError as error:
        print(f"state_dict() after one step: exact: a dict with 'fast_state', 'slow_state' and "
              f"'param_groups' (as documented), observed: AttributeError: {error}  <-- DEVIATION")
        print("DEVIATION reproduced")
        return 1
    print(f"state_dict() after one step: exact and observed: a dict with keys {sorted(state)}")
    print("no deviation: the state can be saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
