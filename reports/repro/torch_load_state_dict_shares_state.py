"""torch.optim.Optimizer.load_state_dict keeps the loaded state's tensors themselves.

An optimizer that loads another optimizer's state_dict() in process (no torch.save /
torch.load in between) shares exp_avg, exp_avg_sq and the step tensors with it: state_dict()
returns references to the live state, and load_state_dict() casts each tensor with
Tensor.to(), which returns the tensor itself when its dtype and device already match. A
step of either optimizer then changes the other's moments. Every optimizer built on
torch.optim.Optimizer that does not override load_state_dict inherits this (torch.optim,
torch-optimizer, pytorch-optimizer, torch-optimi). Reported upstream as
pytorch/pytorch#196083 (open). A serialized round trip (torch.save / torch.load) copies the
tensors and is not affected.

Run: python torch_load_state_dict_shares_state.py [MODULE:ATTR]  (default torch.optim:RAdam;
needs torch and that package; exit status 1 = deviation)
"""

import importlib
import sys

import torch

THETA = [0.5, -1.0, 2.0, 0.25]
GRAD = [-1.0, 0.25, -1.0, 0.5]
NEXT_GRAD = [0.5, 1.0, -0.25, 2.0]


def load(spec):
    module, _, attr = spec.partition(":")
    found = importlib.import_module(module)
    for part in attr.split("."):
        found = getattr(found, part)
    return found


def main() -> int:
    spec = sys.argv[1] if len(sys.argv) > 1 else "torch.optim:RAdam"
    cls = load(spec)
    print(f"{spec}, torch {torch.__version__}")
    source_param = torch.nn.Parameter(torch.tensor(THETA))
    source = cls([source_param], lr=1e-3)
    source_param.grad = torch.tensor(GRAD)
    source.step()
    before = {k: v.clone() for k, v in source.state[source_param].items()
              if isinstance(v, torch.Tensor)}

    loaded_param = torch.nn.Parameter(source_param.detach().clone())
    loaded = cls([loaded_param], lr=1e-3)
    loaded.load_state_dict(source.state_dict())
    loaded_param.grad = torch.tensor(NEXT_GRAD)
    loaded.step()  # a step of the loaded optimizer only

    deviates = False
    for key, value in before.items():
        now = source.state[source_param][key]
        changed = not torch.equal(now, value)
        shared = now.data_ptr() == loaded.state[loaded_param][key].data_ptr()
        deviates |= changed
        print(f"source {key} after the loaded optimizer's step: exact {value.tolist()} (a "
              f"loaded copy leaves it as it was), observed {now.tolist()} (storage shared "
              f"with the loaded optimizer: {shared})" + ("  <-- DEVIATION" if changed else ""))
    print("DEVIATION reproduced: the loaded optimizer's step changed the source optimizer's "
          "state" if deviates else "no deviation: the loaded state is a copy")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
