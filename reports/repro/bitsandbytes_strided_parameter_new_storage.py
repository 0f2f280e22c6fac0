"""bitsandbytes gives a strided parameter new storage: the tensor it is a view of never steps.

bitsandbytes' 32-bit optimizers (Adam32bit, AdamW32bit, LAMB, and every Optimizer2State or
Optimizer1State; bitsandbytes 0.50.2, ``bitsandbytes/optim/optimizer.py``,
``update_step``) begin each parameter's step with ``p.data = p.data.contiguous()``. For a
parameter that is a strided view (a column of a weight matrix, every other element of a
flat buffer), ``contiguous()`` is a copy: the parameter is stepped exactly, but in new
storage, and the storage it was a view of keeps the old values. A model whose parameters
are views into one buffer (a fused or flattened parameter store) sees no step, silently.

Here the parameter is column 0 of a 3 x 4 float32 matrix (every 4th element of its storage).
After one step, torch.optim.AdamW's parameter and the matrix's column are the same values
in the same storage; bitsandbytes' parameter has moved to new storage and the column still
holds the values before the step.

Run: python bitsandbytes_strided_parameter_new_storage.py  (needs torch, bitsandbytes;
exit status 1 = deviation)
"""

import importlib.metadata
import sys

import torch

LR, GRAD = 1e-3, 0.1


def main() -> int:
    import bitsandbytes

    print(f"bitsandbytes {importlib.metadata.version('bitsandbytes')}, torch {torch.__version__}: "
          f"the parameter is column 0 of a 3 x 4 float32 matrix, one step, lr={LR}, grad={GRAD}")
    deviates = False
    makers = (("torch.optim.AdamW", lambda p: torch.optim.AdamW([p], lr=LR)),
              ("bitsandbytes AdamW32bit", lambda p: bitsandbytes.optim.AdamW32bit([p], lr=LR)))
    for name, make in makers:
        matrix = torch.arange(1.0, 13.0).reshape(3, 4)
        p = torch.nn.Parameter(matrix[:, 0])  # a view: stride 4, the matrix's storage
        assert p.data_ptr() == matrix.data_ptr()
        assert not p.is_contiguous()
        before = matrix[:, 0].clone()
        optimizer = make(p)
        p.grad = torch.full((3,), GRAD)
        optimizer.step()
        stepped = not torch.equal(p.detach(), before)
        in_view = torch.equal(matrix[:, 0], p.detach())
        wrong = stepped and not in_view
        deviates |= wrong and name.startswith("bitsandbytes")
        print(f"{name}: parameter after the step {p.detach().tolist()}, the matrix's column "
              f"{matrix[:, 0].tolist()} (before: {before.tolist()}); parameter in the matrix's "
              f"storage: {p.data_ptr() == matrix.data_ptr()}"
              + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else
          "no deviation: the step is written into the view's storage")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
