"""optimi.RAdam(foreach=True) raises on a step where a parameter group has no gradient.

A group whose tensors all have no gradient on a step (a frozen layer in a group of its own,
or a branch of the model not used by this batch) is skipped by torch.optim optimizers and by
optimi's for-loop path. optimi's foreach path passes the group's empty tensor lists to
torch's _group_tensors_by_device_and_dtype, which raises RuntimeError, so step() fails for
the whole model. The exact step leaves that group unchanged and steps the others.

Run: python torch_optimi_foreach_empty_group.py  (needs torch, torch-optimi; exit status
1 = deviation)
"""

import importlib.metadata
import sys
import warnings

import optimi
import torch


def main() -> int:
    print(f"torch-optimi {importlib.metadata.version('torch-optimi')}, torch {torch.__version__}")
    deviates = False
    for name, foreach in (("for-loop", False), ("foreach", True)):
        used = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        frozen = torch.nn.Parameter(torch.tensor([0.5, 0.25]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # foreach is deprecated
            optimizer = optimi.RAdam([{"params": [used]}, {"params": [frozen]}], lr=1e-3,
                                     foreach=foreach, triton=False)
        used.grad = torch.tensor([0.5, 0.5])  # the second group has no gradient this step
        try:
            optimizer.step()
        except RuntimeError as error:
            deviates |= foreach
            print(f"optimi.RAdam ({name}): step() with group 1 without a gradient: exact: group 0 "
                  f"stepped, group 1 unchanged; observed RuntimeError: "
                  f"{str(error).splitlines()[0]}  <-- DEVIATION")
            continue
        print(f"optimi.RAdam ({name}): step() with group 1 without a gradient: exact: group 0 "
              f"stepped, group 1 unchanged; observed theta {used.tolist()}, {frozen.tolist()}")
    print("DEVIATION reproduced" if deviates else "no deviation: step() skips the empty group")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
