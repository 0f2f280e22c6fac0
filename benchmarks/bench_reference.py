"""Throughput of the two references against a plain numpy float64 RAdam loop.

One run, one input (standard-normal initial parameters and gradients from ``--seed``),
the ``pytorch`` preset and ``Hyper(lr=1e-3)`` defaults. Three things are timed, each in
element-steps per second (elements x steps / seconds, so different sizes compare):

* the mpmath trajectory (:func:`radam_verify.reference.exact_trajectory`) at
  ``--precision-bits``, on the leading ``--mpmath-elements`` x ``--mpmath-steps`` block;
* the fast path (:func:`radam_verify.fast.fast_trajectory`: float64 elements with exact
  per-step coefficients), on ``--elements`` x ``--steps``;
* the baseline: a torch-style RAdam loop written here (``rho_t > 5``, rho_t and the other
  scalars in Python floats each step, the elements in numpy float64), same size.

Each is timed with ``time.perf_counter``, best of ``--repeats`` (default 3).

Targets: fast >= 0.1 x numpy, and mpmath >= 1e5 element-steps/s. Before any figure is
reported, the final parameters are cross-checked (mpmath against fast on the small block,
fast against the baseline on the large one), so a broken path cannot post a good figure.

Usage: ``python benchmarks/bench_reference.py [--json] [--elements N] [--steps N] ...``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import NoReturn

import numpy as np
import numpy.typing as npt

from radam_verify.conventions import PRESETS
from radam_verify.fast import fast_trajectory
from radam_verify.hyper import Hyper
from radam_verify.precision import DEFAULT_PRECISION_BITS
from radam_verify.reference import ExactState, exact_trajectory

F64Array = npt.NDArray[np.float64]

FAST_OVER_NUMPY_TARGET = 0.1
MPMATH_TARGET = 1e5
MIN_PRECISION_BITS = 113  # binary128's significand: anything less is not a reference
# Cross-check tolerance on theta, relative to max(1, |theta|): float64 paths differ by ulps.
AGREEMENT_TOLERANCE = 1e-9


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit status 2, as argparse's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer {what}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bench_reference.py",
        description=(
            "Element-steps per second of radam-verify's mpmath trajectory (exact_trajectory), its "
            "fast path (fast_trajectory: float64 with exact per-step coefficients) and a plain "
            "numpy float64 torch-style RAdam loop (rho_t > 5, scalars in Python floats), in one run "
            "on the same seeded input, pytorch preset, Hyper(lr=1e-3) defaults. The mpmath path "
            "runs on the leading --mpmath-elements x --mpmath-steps block of that input."
        ),
        epilog=(
            f"Targets: fast >= {FAST_OVER_NUMPY_TARGET:g} x numpy, and mpmath >= {MPMATH_TARGET:.0e} "
            "element-steps/s. The results of the three paths are cross-checked before any figure "
            "is printed. Defaults take about 10-30 s on a 2-core machine."
        ),
    )
    parser.add_argument("--json", action="store_true",
                        help="print exactly one JSON object instead of the table")
    parser.add_argument("--elements", type=_int_at_least(1, ">= 1"), default=200_000,
                        help="elements for the fast path and the numpy loop (default: 200000)")
    parser.add_argument("--steps", type=_int_at_least(1, ">= 1"), default=50,
                        help="steps for the fast path and the numpy loop (default: 50)")
    parser.add_argument("--mpmath-elements", type=_int_at_least(1, ">= 1"), default=40_000,
                        help="elements for the mpmath trajectory (default: 40000)")
    parser.add_argument("--mpmath-steps", type=_int_at_least(1, ">= 1"), default=10,
                        help="steps for the mpmath trajectory (default: 10)")
    bits_type = _int_at_least(MIN_PRECISION_BITS, f">= {MIN_PRECISION_BITS}")
    parser.add_argument("--precision-bits", type=bits_type, default=DEFAULT_PRECISION_BITS,
                        help=f"mpmath working precision (default: {DEFAULT_PRECISION_BITS}; "
                             f"at least {MIN_PRECISION_BITS}, binary128's significand)")
    parser.add_argument("--repeats", type=_int_at_least(1, ">= 1"), default=3,
                        help="timed runs of each path; the best counts (default: 3)")
    parser.add_argument("--seed", type=_int_at_least(0, ">= 0"), default=0,
                        help="seed of the standard-normal parameters and gradients (default: 0)")
    return parser


def numpy_radam(theta0: F64Array, grads: F64Array, hyper: Hyper) -> F64Array:
    """torch.optim.RAdam's single-tensor loop (L2 decay, rho_t > 5) in numpy float64."""
    lr, beta1, beta2, eps, wd = hyper.lr, hyper.beta1, hyper.beta2, hyper.eps, hyper.weight_decay
    param = theta0.copy()
    exp_avg = np.zeros_like(param)
    exp_avg_sq = np.zeros_like(param)
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    for index in range(grads.shape[0]):
        step = index + 1
        grad = grads[index]
        if wd != 0.0:
            grad = grad + wd * param
        exp_avg += (1.0 - beta1) * (grad - exp_avg)  # lerp_(grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1.0 - beta2) * (grad * grad)
        bias_correction1 = 1.0 - beta1**step
        bias_correction2 = 1.0 - beta2**step
        bias_corrected_exp_avg = exp_avg / bias_correction1
        rho_t = rho_inf - 2.0 * step * beta2**step / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive_lr = math.sqrt(bias_correction2) / (np.sqrt(exp_avg_sq) + eps)
            param -= bias_corrected_exp_avg * lr * adaptive_lr * rect
        else:
            param -= bias_corrected_exp_avg * lr
    return param


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _check_close(name: str, got: Sequence[float] | F64Array, want: F64Array) -> None:
    got_array = np.asarray(got, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(want))))
    worst = float(np.max(np.abs(got_array - want)))
    if not worst <= AGREEMENT_TOLERANCE * scale:
        raise SystemExit(f"bench_reference.py: {name} disagree: max |difference| of theta is {worst:.3g}")


def measure(args: argparse.Namespace) -> dict[str, object]:
    hyper = Hyper(lr=1e-3)
    convention = PRESETS["pytorch"]
    rng = np.random.default_rng(args.seed)
    width = max(args.elements, args.mpmath_elements)
    theta0 = rng.standard_normal(width)
    grads = rng.standard_normal((max(args.steps, args.mpmath_steps), width))

    # mpmath: the Python-float inputs are prepared outside the clock.
    mp_theta = theta0[: args.mpmath_elements]
    mp_grads = grads[: args.mpmath_steps, : args.mpmath_elements]
    mp_theta_list, mp_grads_list = mp_theta.tolist(), mp_grads.tolist()

    def run_exact() -> list[ExactState]:
        return exact_trajectory(mp_theta_list, mp_grads_list, hyper, convention,
                                precision_bits=args.precision_bits)

    mp_seconds = math.inf
    for attempt in range(args.repeats):
        start = time.perf_counter()
        exact = run_exact()
        mp_seconds = min(mp_seconds, time.perf_counter() - start)
        if attempt == 0:
            small_fast = fast_trajectory(mp_theta, list(mp_grads), hyper, convention)
            _check_close("mpmath and fast", exact[-1].floats()[0], small_fast[-1].theta)
            del small_fast
        del exact

    big_theta = theta0[: args.elements]
    big_grads = grads[: args.steps, : args.elements]
    big_grad_list = list(big_grads)
    _check_close("numpy loop and fast", numpy_radam(big_theta, big_grads, hyper),
                 fast_trajectory(big_theta, big_grad_list, hyper, convention)[-1].theta)
    fast_seconds = best_seconds(lambda: fast_trajectory(big_theta, big_grad_list, hyper, convention),
                                args.repeats)
    numpy_seconds = best_seconds(lambda: numpy_radam(big_theta, big_grads, hyper), args.repeats)

    mp_rate = args.mpmath_elements * args.mpmath_steps / mp_seconds
    big_work = args.elements * args.steps
    fast_rate, numpy_rate = big_work / fast_seconds, big_work / numpy_seconds
    fast_over_numpy = fast_rate / numpy_rate
    return {
        "mpmath_elem_steps_per_s": mp_rate,
        "fast_elem_steps_per_s": fast_rate,
        "numpy_f64_elem_steps_per_s": numpy_rate,
        "precision_bits": args.precision_bits,
        "fast_over_numpy": fast_over_numpy,
        "mpmath_target_met": bool(mp_rate >= MPMATH_TARGET),
        "fast_target_met": bool(fast_over_numpy >= FAST_OVER_NUMPY_TARGET),
    }


def render_table(result: dict[str, object], args: argparse.Namespace) -> str:
    mp_rate = float(result["mpmath_elem_steps_per_s"])  # type: ignore[arg-type]
    fast_rate = float(result["fast_elem_steps_per_s"])  # type: ignore[arg-type]
    numpy_rate = float(result["numpy_f64_elem_steps_per_s"])  # type: ignore[arg-type]

    def verdict(met: object) -> str:
        return "met" if met else "NOT met"

    rows = [
        (f"mpmath ({args.precision_bits} bits)", f"{args.mpmath_elements} x {args.mpmath_steps}", mp_rate),
        ("fast (float64, exact coeffs)", f"{args.elements} x {args.steps}", fast_rate),
        ("numpy float64 loop", f"{args.elements} x {args.steps}", numpy_rate),
    ]
    lines = [f"{'path':<30} {'elements x steps':>18} {'element-steps/s':>16}"]
    lines += [f"{name:<30} {size:>18} {rate:>16.4g}" for name, size, rate in rows]
    lines.append("")
    lines.append(f"fast / numpy   = {result['fast_over_numpy']:.3g}  "
                 f"(target >= {FAST_OVER_NUMPY_TARGET:g}: {verdict(result['fast_target_met'])})")
    lines.append(f"mpmath / numpy = {mp_rate / numpy_rate:.3g}  "
                 f"(mpmath target >= {MPMATH_TARGET:.0e} element-steps/s: "
                 f"{verdict(result['mpmath_target_met'])})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = measure(args)
    print(json.dumps(result) if args.json else render_table(result, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
