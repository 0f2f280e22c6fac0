"""The ``radam-verify`` command line: ``derive``, ``schedule``, ``check``, ``identify``, ``report``.

Exit codes: 0 success (a claim holds, an implementation conforms), 1 a claim failed or
an implementation deviates, 3 an internal error of radam-verify (an exception of the suite
itself, not of the implementation; no verdict), 4 a usage error (printed as one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from radam_verify.errors import RadamVerifyError
from radam_verify.suite.options import SCHEDULES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 4


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and the project's usage exit code."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


DTYPE_HELP = ("float32 (default), float64, bfloat16 or float16 (torch optimizers, Keras 3's "
              "and the plain protocol), or complex64/complex128 for torch optimizers (their "
              "real and imaginary parts are verified as float32/float64)")

def _positive_int(text: str, least: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected a number >= {least}, got {value}")
    return value


def _workers(text: str) -> int:
    return _positive_int(text, least=0)


def _shard(text: str) -> tuple[int, int]:
    """``I/N`` with 1 <= I <= N."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 1/4, got {text!r}") from None
    if not sep or n < 1 or not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"expected I/N with 1 <= I <= N, got {text!r}")
    return i, n


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value


def _convention(text: str) -> object:
    from radam_verify.conventions import parse_convention

    try:
        return parse_convention(text)
    except RadamVerifyError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="radam-verify",
        description="Exact verification of RAdam (Liu et al., ICLR 2020): SymPy derivations "
        "of its constants and the exact mpmath schedule.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    derive = commands.add_parser(
        "derive", help="derive and check RAdam's constants with SymPy",
        description="Derive every claim (rho_t, rho_inf, r_t, the threshold, ...) and check "
        "each step. Exits 1 when any claim fails.")
    form = derive.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true",
                      help='print {"claims": [{"id", "statement", "latex", "verified", '
                      '"method", "steps"}]}')
    form.add_argument("--markdown", action="store_true",
                      help="print the derivation document (derivations/radam.md)")
    schedule = commands.add_parser(
        "schedule", help="print the exact schedule (rho_t, r_t, bias corrections) as JSON",
        description="The exact scalar schedule for the binary64 values of the betas; the "
        "branch decision is certified by interval arithmetic.")
    schedule.add_argument("--beta2", type=_unit_float, required=True, help="beta2 in [0, 1)")
    schedule.add_argument("--beta1", type=_unit_float, default=0.9,
                          help="beta1 in [0, 1) (default 0.9)")
    schedule.add_argument("--steps", type=_positive_int, required=True,
                          help="how many steps to print")
    schedule.add_argument("--start", type=_positive_int, default=1,
                          help="first step t, 1-based (default 1); any size, e.g. 1000000000")
    schedule.add_argument("--convention", type=_convention, default="pytorch",
                          help="NAME[,axis=value...]: a preset (paper, pytorch, official, "
                          "official-sgd, optax) with overrides (default pytorch)")
    schedule.add_argument("--digits", type=_positive_int, default=30,
                          help="significant digits of every number (default 30)")
    schedule.add_argument("--float32-hyper", action="store_true",
                          help="round beta1 and beta2 to float32 first, as a float32 "
                          "implementation that stores them would")
    _add_verify_commands(commands)
    return parser


def _add_verify_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    check = commands.add_parser(
        "check", help="verify an implementation with the conformance suite; print a verdict table",
        description="Run the packaged conformance suite (the same as pytest --verify-impl=SPEC) "
        "and print one row per property. Exits 0 when the implementation conforms, 1 when a "
        "property fails (a deviation, or an exception of the implementation), 3 on an internal "
        "error of radam-verify (an exception of the suite itself; no verdict), 4 on a usage error.")
    check.add_argument("spec", metavar="MODULE:ATTR",
                       help="e.g. torch.optim:RAdam, optax:radam, radam_verify.impls:ReferenceRAdam")
    check.add_argument("--convention", default="auto",
                       help="SPEC or auto (default): identify the convention first")
    check.add_argument("--kwargs", default="{}", help="constructor arguments as a JSON object "
                       "(a Lookahead wrapper, torch's or optax:lookahead: \"inner\": "
                       "\"MODULE:ATTR\" names the optimizer it wraps, which takes the "
                       "keywords the wrapper does not; a torch optimizer: \"compile\": true "
                       "steps it through torch.compile)")
    check.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    check.add_argument("--dtype", default="float32", help=DTYPE_HELP)
    check.add_argument("--profile", default=None,
                       help="quick, ci or thorough (default ci when CI is set, else quick)")
    check.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    check.add_argument("--shrink", default="yes", choices=("yes", "no"),
                       help="shrink failures to minimal counterexamples (default yes)")
    check.add_argument("--subnormals", default="platform", choices=("platform", "ieee"),
                       help="on a platform that flushes subnormals to zero (probed at start-up, "
                       "e.g. XLA on the CPU): platform (default) judges IEEE arithmetic with "
                       "subnormals flushed, so the verdict shows the implementation's own "
                       "findings; ieee judges gradual underflow strictly")
    check.add_argument("--schedule", default="textbook", choices=SCHEDULES,
                       help="how accurate the scalar schedule must be: textbook (default) allows "
                       "every legitimate binary64 evaluation, the paper's formula with its "
                       "cancellation near b2 = 1 included; accurate requires rho_t, r_t and the "
                       "bias corrections within 2 binary64 ulps of exact. The verdict shows the "
                       "share of the bound the textbook allowance took")
    check.add_argument("--report", metavar="DIR", default=None,
                       help="also write DIR/verdict.json (schema radam_verify/suite/verdict.schema.json) "
                       "and its renderings DIR/verdict.md, DIR/verdict.html with ulp histograms")
    check.add_argument("-n", "--workers", type=_workers, default=None,
                       help="run the properties on N worker processes (pytest-xdist; default 1, "
                       "which a hang or a crash of the implementation cannot take down; 0 runs "
                       "them in this process)")
    check.add_argument("--step-timeout", metavar="SECONDS", default=None,
                       help="the longest one call into the implementation may take before its "
                       "property fails as hanging (default: 50 times its slowest call while it "
                       "was probed, at least 10 s)")
    check.add_argument("-v", "--verbose", action="store_true", help="one line per property while running")
    identify = commands.add_parser(
        "identify", help="identify an implementation's convention from diagnostic probes",
        description="Run a few deterministic probes and report each axis of the convention with "
        "the evidence; 'convention' is the preset whose axes all match, or null.")
    identify.add_argument("spec", metavar="MODULE:ATTR")
    identify.add_argument("--kwargs", default="{}", help="constructor arguments as a JSON object")
    identify.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    identify.add_argument("--dtype", default="float32", help=DTYPE_HELP)
    identify.add_argument("--json", action="store_true",
                          help='print {"convention", "axes", "evidence", ...} as JSON')
    report = commands.add_parser(
        "report", help="write the derivation report (derivation.html and derivation.md)",
        description="Check every claim and write an offline HTML report (MathML formulas, "
        "inline SVG figures) and its Markdown twin.")
    report.add_argument("--out", default="reports", help="output directory (default reports/)")
    repro = commands.add_parser(
        "repro", help="write the stand-alone repro scripts of a saved verdict",
        description="For each failed property of VERDICT (a verdict.json written by check "
        "--report or --verify-report), run its shrunk counterexample once more on the same "
        "implementation and write a script that reproduces it without radam-verify "
        "(DIR/repro/<property>.py beside the verdict), then rewrite the verdict's Markdown, HTML "
        "and CI summary with links to the scripts. check --report does this by itself; this "
        "command serves verdicts written before, or moved to another machine.")
    repro.add_argument("verdict", metavar="VERDICT", help="path of a verdict.json")
    matrix = commands.add_parser(
        "matrix", help="run the suite on the RAdam family's implementations users install",
        description="Identify and verify every configuration of the compatibility matrix "
        "(torch.optim.RAdam, torch-optimizer, pytorch-optimizer, torch-optimi, optax, fastai, "
        "PaddlePaddle, TensorFlow Addons, MindSpore; Adam's and AMSGrad's: torch.optim.Adam "
        "and AdamW, optax.adam, adamw and amsgrad, Keras 3's Adam and AdamW, bitsandbytes' "
        "32-bit Adam and AdamW; LAMB's: torch-optimizer's, pytorch-optimizer's and timm's "
        "Lamb, optax.lamb, Keras 3's Lamb, bitsandbytes' LAMB; Lookahead's: pytorch-ranger's and "
        "pytorch-optimizer's Ranger, timm's, torch-optimizer's and pytorch-optimizer's "
        "Lookahead; see radam_verify/matrix/), "
        "each in its own process (a framework whose dependencies conflict with this "
        "environment's runs in its own nox environment, built once from noxfile.py and reused), "
        "and write OUT/README.md "
        "(the table), OUT/matrix.json and one folder per run with identify.json and the verdict "
        "(JSON, Markdown, HTML). Configurations that cannot run here are listed with the reason.")
    matrix.add_argument("--out", default="reports/matrix", help="output directory (default reports/matrix)")
    matrix.add_argument("--profile", default="thorough",
                        help="suite profile for every run (default thorough)")
    matrix.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    matrix.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only configurations whose folder name contains TEXT (repeatable); "
                        "the table keeps the other rows from earlier runs")
    matrix.add_argument("--shard", type=_shard, default=(1, 1), metavar="I/N",
                        help="run the I-th of N equal shares of the selected configurations "
                        "(every N-th from the I-th), so N machines or CI jobs split one matrix run; "
                        "default 1/1")
    matrix.add_argument("--render-only", action="store_true",
                        help="rewrite the table from the verdicts on disk without running anything")
    matrix.add_argument("-n", "--workers", type=_positive_int, default=None,
                        help="pytest-xdist processes per run")


def _derive(args: argparse.Namespace) -> int:
    from radam_verify.derivation import all_claims
    from radam_verify.derivation.document import render_markdown

    claims = all_claims()
    if args.json:
        print(json.dumps({"claims": [c.as_json() for c in claims]}, indent=2))
    elif args.markdown:
        sys.stdout.write(render_markdown(claims))
    else:
        for item in claims:
            mark = "verified" if item.verified else "FAILED  "
            print(f"{mark}  {item.id:24s} {item.title}  [{item.method}]")
        print(f"{sum(c.verified for c in claims)} of {len(claims)} claims verified")
    return EXIT_OK if all(c.verified for c in claims) else EXIT_FAILED


def _schedule(args: argparse.Namespace) -> int:
    from radam_verify.conventions import parse_convention
    from radam_verify.schedule import schedule_document

    convention = args.convention
    if isinstance(convention, str):
        convention = parse_convention(convention)
    document = schedule_document(
        args.beta1, args.beta2, convention, start=args.start, steps=args.steps,
        digits=args.digits, hyper_rounding="float32" if args.float32_hyper else "float64")
    print(json.dumps(document, indent=2))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from radam_verify import commands

    handlers = {"derive": _derive, "schedule": _schedule, "check": commands.check,
                "identify": commands.identify, "report": commands.report,
                "repro": commands.repro,
                "matrix": commands.matrix}
    try:
        return handlers[args.command](args)
    except RadamVerifyError as error:
        print(f"radam-verify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into head or less, which closed early
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
