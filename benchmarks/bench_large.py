"""Judging a step of a 10^6-element tensor against the implementation's own step.

In one run: the time of torch.optim.RAdam's for-loop step (float32, CPU; ``--dtype
float64`` for binary64 tensors, judged around a double-double centre) on a tensor of 10^6
elements, and the time the suite needs to judge that step (run it through the adapter,
read the state back, the fast reference, the error model's bounds, the comparison), as the
ratio judge / step. The target is at most 20. Each figure is the median of ``--repeat``
runs of ``--steps`` steps (the step, which is short and noisy, of five times as many), the
step's runs and the judge's interleaved;
``--json`` prints them as JSON. Where numba is installed, a float32 tensor's blocks are
judged by the compiled loop (``radam_verify/fused_kernel.py``); the same run then also
times judging by numpy passes alone (``judge_numpy_s``, ``ratio_numpy``), for the
speed-up it gives.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

TARGET = 20.0


def measure(size: int, steps: int, repeat: int, dtype: str = "float32") -> dict[str, object]:
    import torch

    from radam_verify import fast_judge, fused_kernel
    from radam_verify.adapters import GroupSpec, load_adapter
    from radam_verify.conventions import PRESETS
    from radam_verify.floats import FORMATS
    from radam_verify.hyper import Hyper
    from radam_verify.suite import checks
    from radam_verify.suite.scenario import Scenario

    hyper = Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    rng = np.random.default_rng(0)

    def tensor() -> np.ndarray:
        return rng.standard_normal(size).astype(dtype).astype(np.float64)

    theta0, grads = tensor(), [tensor() for _ in range(steps)]
    adapter = load_adapter("torch.optim:RAdam", {"foreach": False}, "cpu", dtype)
    kind = getattr(torch, dtype)
    scenario = Scenario((GroupSpec(hyper, (theta0,)),), tuple(((g,),) for g in grads))

    def own() -> float:
        param = torch.tensor(theta0, dtype=kind, requires_grad=True)
        optimizer = torch.optim.RAdam([param], lr=hyper.lr, betas=(hyper.beta1, hyper.beta2),
                                      eps=hyper.eps, foreach=False)
        tensors = [torch.tensor(g, dtype=kind) for g in grads]
        start = time.perf_counter()
        for g in tensors:
            param.grad = g
            optimizer.step()
        return time.perf_counter() - start

    def judged() -> float:
        start = time.perf_counter()
        outcome = checks.exact(adapter, scenario, PRESETS["pytorch"])
        elapsed = time.perf_counter() - start
        if not outcome.conforms:
            raise SystemExit(f"bench_large: torch.optim.RAdam did not conform: {outcome}")
        return elapsed

    own(), judged()  # warm-up: first calls import, compile and allocate
    # interleaved, so that a change in the machine's load meets both alike
    steps_s: list[float] = []
    judges_s: list[float] = []
    for _ in range(repeat):
        steps_s += [own() for _ in range(5)]
        judges_s.append(judged())
    step_s, judge_s = statistics.median(steps_s), statistics.median(judges_s)
    row: dict[str, object] = {
        "size": size, "dtype": dtype, "steps": steps, "repeat": repeat,
        "step_s": round(step_s / steps, 5), "judge_s": round(judge_s / steps, 5),
        "ratio": round(judge_s / step_s, 1), "target": TARGET}
    if fused_kernel.judges(FORMATS[dtype], 3, dtype == "float64", False):
        compiled = fast_judge._compiled_block
        fast_judge._compiled_block = lambda *_: None
        try:
            judge_numpy_s = statistics.median(judged() for _ in range(repeat))
        finally:
            fast_judge._compiled_block = compiled
        row.update(judge_numpy_s=round(judge_numpy_s / steps, 5),
                   ratio_numpy=round(judge_numpy_s / step_s, 1))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10**6)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="the tensor's dtype (float64: judged around a double-double centre)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    row = measure(args.size, args.steps, args.repeat, args.dtype)
    if args.json:
        print(json.dumps(row, indent=2))
    else:
        print(f"torch.optim.RAdam for-loop, {row['dtype']}, {row['size']} elements: a step takes "
              f"{row['step_s']} s, judging it {row['judge_s']} s: {row['ratio']} times the "
              f"step (target: at most {TARGET:g})")
        if "ratio_numpy" in row:
            print(f"judged by numpy passes alone: {row['judge_numpy_s']} s, "
                  f"{row['ratio_numpy']} times the step")
    return 0 if float(str(row["ratio"])) <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
