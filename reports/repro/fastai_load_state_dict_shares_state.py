"""fastai's Optimizer.load_state_dict keeps the loaded state dict's hypers and states themselves.

fastai's Optimizer.state_dict() returns {'state': [the live per-parameter state dicts],
'hypers': the optimizer's own list of hyperparameter dicts}, and load_state_dict() assigns
them (self.hypers = sd['hypers']; self.state = {p: s for p, s in ...}). An optimizer that
loads another's state dict in process (no torch.save / torch.load in between) then shares
its hyperparameters and its moments with it: setting the source's learning rate changes the
loaded optimizer's, and a step of the loaded optimizer changes the source's moments. A
serialized round trip copies them and is not affected.

Run: python fastai_load_state_dict_shares_state.py  (needs torch and fastai; exit status 1 =
deviation)
"""

import importlib.metadata
import sys

import torch
from fastai.optimizer import RAdam

THETA = [0.5, -1.0, 2.0, 0.25]
GRAD = [-1.0, 0.25, -1.0, 0.5]
NEXT_GRAD = [0.5, 1.0, -0.25, 2.0]


def main() -> int:
    print(f"fastai {importlib.metadata.version('fastai')}, torch {torch.__version__}")
    source_param = torch.nn.Parameter(torch.tensor(THETA))
    source = RAdam([source_param], lr=1e-3)
    source_param.grad = torch.tensor(GRAD)
    source.step()
    before = source.state[source_param]["grad_avg"].clone()

    loaded_param = torch.nn.Parameter(source_param.detach().clone())
    loaded = RAdam([loaded_param], lr=1e-3)
    loaded.load_state_dict(source.state_dict())
    source.set_hyper("lr", 0.5)  # the source's schedule moves on
    lr = loaded.hypers[0]["lr"]
    print(f"loaded optimizer's lr after the source's was set to 0.5: exact 0.001 (as loaded), "
          f"observed {lr}" + ("  <-- DEVIATION" if lr != 1e-3 else ""))
    loaded_param.grad = torch.tensor(NEXT_GRAD)
    loaded.step()  # a step of the loaded optimizer only
    now = source.state[source_param]["grad_avg"]
    changed = not torch.equal(now, before)
    print(f"source grad_avg after the loaded optimizer's step: exact {before.tolist()} (a "
          f"loaded copy leaves it as it was), observed {now.tolist()}"
          + ("  <-- DEVIATION" if changed else ""))
    deviates = changed or lr != 1e-3
    print("DEVIATION reproduced: the two optimizers share hyperparameters and state"
          if deviates else "no deviation: the loaded state is a copy")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
