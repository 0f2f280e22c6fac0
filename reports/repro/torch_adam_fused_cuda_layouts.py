"""torch.optim.Adam(fused=True) on CUDA refuses a gradient laid out unlike its parameter.

A parameter and its gradient need not share strides: a transposed gradient of a contiguous
weight, or a strided view (a column of a matrix) whose gradient is contiguous, are legal
inputs, and the for-loop and foreach paths step them exactly. The fused CUDA path checks
that params, grads, exp_avgs and exp_avg_sqs have the same layout and raises RuntimeError
("params, grads, exp_avgs, and exp_avg_sqs must have same dtype, device, and layout")
instead of stepping. The first step of Adam with eps = 0 is exactly theta - lr * sign(g) per
element, so the exact value needs no reference implementation; a correct float32 step is
within a few ulps of it.

Run: python torch_adam_fused_cuda_layouts.py [Adam|AdamW]  (needs torch with a CUDA device;
exit status 1 = deviation, 2 = no CUDA device)
"""

import sys

import torch

LR = 0.125  # a power of 2: theta - lr * sign(g) is exact in float32
TOLERANCE = 8 * 2.0**-24 * (1.0 + LR)  # |theta| <= 1


def layouts(device: str) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """name -> (storage, parameter view, gradient): values in [-1, 1], no zero gradient."""
    theta = (torch.arange(12, dtype=torch.float32, device=device) / 8 - 0.75).reshape(3, 4)
    grad = torch.linspace(0.5, -0.5, 12, device=device).reshape(3, 4)
    grad[grad == 0] = 0.25
    found = {}
    storage = theta.clone()  # contiguous parameter, gradient stored transposed
    found["contiguous parameter, transposed gradient"] = (storage, storage, grad.t().contiguous().t())
    storage = torch.full((3, 8), 7.0, device=device)  # parameter: every 2nd column of a buffer
    storage[:, ::2] = theta
    found["strided parameter, contiguous gradient"] = (storage, storage[:, ::2], grad.clone())
    return found


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device: the fused CUDA kernel needs one; nothing was run")
        return 2
    cls = getattr(torch.optim, sys.argv[1] if len(sys.argv) > 1 else "Adam")
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}: {cls.__name__}(lr={LR}, "
          "eps=0), one step")
    deviates = False
    for name in layouts("cuda"):
        for path in ({"foreach": False}, {"foreach": True}, {"fused": True}):
            storage, view, grad = layouts("cuda")[name]
            exact = view.detach().clone() - LR * torch.sign(grad)
            param = torch.nn.Parameter(view)
            assert param.data_ptr() == view.data_ptr()
            optimizer = cls([param], lr=LR, eps=0.0, weight_decay=0.0, **path)
            param.grad = grad
            try:
                optimizer.step()
            except RuntimeError as error:
                deviates = True
                print(f"{name}, {path}: step() raised RuntimeError: {error}  <-- DEVIATION")
                continue
            off = (param.detach() - exact).abs().max().item()
            outside = storage.detach().clone()
            if view.data_ptr() != storage.data_ptr() or view.shape != storage.shape:
                outside[:, ::2] = 7.0  # the view's own elements
            touched = int((outside != 7.0).sum().item()) if view.shape != storage.shape else 0
            wrong = not off <= TOLERANCE or touched > 0
            deviates |= wrong
            print(f"{name}, {path}: largest distance from the exact step {off!r}, elements "
                  f"outside the view changed: {touched}"
                  + ("  <-- DEVIATION" if wrong else ""))
    print("DEVIATION reproduced" if deviates else "no deviation: the behaviour matches the exact step")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
