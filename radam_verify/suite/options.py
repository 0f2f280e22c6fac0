"""The suite's options (shared by the pytest plugin and ``radam-verify check``), validated.

Every bad value is a one-line :class:`~radam_verify.errors.UsageError` naming the
problem and the fix. :func:`build_target` constructs the implementation once (so that
rejected kwargs are found at start-up) and resolves the convention, identifying it when
asked for ``auto``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from radam_verify import watchdog
from radam_verify.errors import RadamVerifyError, UsageError
from radam_verify.suite.profiles import get_profile

if TYPE_CHECKING:
    from radam_verify.adapters import Adapter
    from radam_verify.identify import Identification
    from radam_verify.suite.target import Target

#: how the schedule's evaluation is judged (``--verify-schedule``): ``textbook`` allows every
#: legitimate binary64 evaluation, the paper's formula with its cancellation included;
#: ``accurate`` requires each scalar within a few binary64 ulps of exact
#: (:data:`radam_verify.tolerance.ACCURATE_ULPS`)
SCHEDULES = ("textbook", "accurate")

#: option name -> (ini name, metavar, help); the plugin and the CLI share these
OPTIONS: dict[str, tuple[str, str, str]] = {
    "--verify-impl": ("verify_impl", "MODULE:ATTR",
                      "the implementation to verify: a torch.optim.Optimizer subclass "
                      "(torch.optim:RAdam), an optax factory (optax:radam), a fastai optimizer "
                      "(fastai.optimizer:RAdam), a paddle.optimizer.Optimizer subclass "
                      "(paddle.optimizer:RAdam), a Keras optimizer "
                      "(tensorflow_addons.optimizers:RectifiedAdam), a MindSpore optimizer "
                      "(mindspore.experimental.optim:RAdam) or a class following the init/step "
                      "protocol"),
    "--verify-convention": ("verify_convention", "SPEC|auto",
                            "the convention to verify against: a preset (paper, pytorch, official, "
                            "official-sgd, optax) with axis=value overrides, or auto (default): "
                            "identify it first"),
    "--verify-kwargs": ("verify_kwargs", "JSON",
                        'extra constructor arguments as a JSON object, e.g. \'{"foreach": true}\'; '
                        "never a hyperparameter the suite draws (lr, betas, eps, weight_decay); "
                        "for a torch Lookahead wrapper, \"inner\": \"MODULE:ATTR\" names the "
                        "optimizer it wraps, which takes the keywords the wrapper does not; "
                        "for a torch optimizer, \"compile\": true steps it through "
                        "torch.compile"),
    "--verify-device": ("verify_device", "cpu|cuda|cuda:N", "where the tensors live (default cpu)"),
    "--verify-dtype": ("verify_dtype", "float32|float64|bfloat16|float16|complex64|complex128",
                       "parameter dtype (default float32; bfloat16 and float16 for torch "
                       "optimizers, Keras 3's and the plain protocol, complex for torch "
                       "optimizers)"),
    "--verify-profile": ("verify_profile", "quick|ci|thorough",
                         "examples per property and trajectory lengths (default ci when the CI "
                         "environment variable is set, else quick)"),
    "--verify-report": ("verify_report", "FILE",
                        "write the JSON verdict to FILE (schema: radam_verify/suite/verdict.schema.json) "
                        "and its Markdown/HTML renderings with ulp histograms beside it"),
    "--verify-seed": ("verify_seed", "N", "Hypothesis seed (default 0: the same examples each run)"),
    "--verify-shrink": ("verify_shrink", "yes|no",
                        "shrink a failing example to a minimal counterexample (default yes); no "
                        "reports the first failing example at once, e.g. for mutation testing"),
    "--verify-subnormals": ("verify_subnormals", "platform|ieee",
                            "how to judge a platform that flushes subnormals to zero (probed at "
                            "start-up, e.g. XLA on the CPU): platform (default) judges IEEE "
                            "arithmetic with subnormals flushed, so the verdict shows the "
                            "implementation's own findings; ieee judges gradual underflow strictly"),
    "--verify-schedule": ("verify_schedule", "textbook|accurate",
                          "how accurate the scalar schedule (rho_t, r_t, the bias corrections) "
                          "must be: textbook (default) allows every legitimate binary64 "
                          "evaluation, the paper's formula with its cancellation near b2 = 1 "
                          "included; accurate requires each within 2 binary64 ulps of exact. "
                          "The verdict shows, per property, the share of the bound the textbook "
                          "allowance took"),
    "--verify-step-timeout": ("verify_step_timeout", "SECONDS",
                              "the longest one call into the implementation (a step, its "
                              "constructor, state_dict) may take before the property fails as "
                              "hanging (default: 50 times its slowest call while probing, at "
                              "least 10 s)"),
    "--verify-progress-after": ("verify_progress_after", "SECONDS",
                                "a property running longer than this shows a progress line on a "
                                "terminal: examples so far and the worst error/bound (default 2; "
                                "0 shows it from the first examples)"),
}


@dataclass(frozen=True)
class VerifyOptions:
    impl: str
    convention: str = "auto"
    kwargs: dict[str, object] = field(default_factory=dict)
    device: str = "cpu"
    dtype: str = "float32"
    profile: str = "quick"
    report: str | None = None
    seed: int = 0
    shrink: bool = True
    step_timeout_s: float | None = None  # None: derived from the implementation's first calls
    #: "platform": judge a flushing platform as IEEE with subnormals flushed; "ieee": strictly
    subnormals: str = "platform"
    #: "textbook": every legitimate binary64 schedule; "accurate": within 2 ulps of exact
    schedule: str = "textbook"
    #: a property running longer than this shows a progress line (on a terminal)
    progress_after_s: float = 2.0

    @classmethod
    def parse(cls, values: dict[str, str | None]) -> VerifyOptions:
        """From raw strings (option or ini values; None or '' for unset)."""
        impl = values.get("verify_impl") or ""
        if not impl:
            raise UsageError("--verify-impl is required, e.g. --verify-impl=torch.optim:RAdam")
        raw_kwargs = values.get("verify_kwargs") or "{}"
        try:
            kwargs = json.loads(raw_kwargs)
        except json.JSONDecodeError as error:
            raise UsageError(f"--verify-kwargs is not valid JSON ({error.msg} at column "
                             f"{error.colno}); pass an object such as '{{\"foreach\": true}}'") from None
        if not isinstance(kwargs, dict):
            raise UsageError(f"--verify-kwargs must be a JSON object, got {raw_kwargs!r}; "
                             "e.g. '{\"foreach\": true}'")
        dtype = values.get("verify_dtype") or "float32"
        if dtype not in ("float32", "float64", "bfloat16", "float16", "complex64", "complex128"):
            raise UsageError(f"--verify-dtype={dtype!r} is not supported; use float32, float64, "
                             "bfloat16, float16, complex64 or complex128")
        profile = values.get("verify_profile") or ("ci" if os.environ.get("CI") else "quick")
        get_profile(profile)
        raw_seed = values.get("verify_seed") or "0"
        try:
            seed = int(raw_seed)
        except ValueError:
            raise UsageError(f"--verify-seed={raw_seed!r} is not a whole number; e.g. 0") from None
        shrink = (values.get("verify_shrink") or "yes").lower()
        if shrink not in ("yes", "no"):
            raise UsageError(f"--verify-shrink={shrink!r}: use yes or no")
        step_timeout = _seconds(values, "verify_step_timeout", positive=True)
        progress_after = _seconds(values, "verify_progress_after", positive=False)
        subnormals = (values.get("verify_subnormals") or "platform").lower()
        if subnormals not in ("platform", "ieee"):
            raise UsageError(f"--verify-subnormals={subnormals!r}: use platform (judge a platform "
                             "that flushes subnormals as such) or ieee (judge gradual underflow "
                             "strictly)")
        schedule = (values.get("verify_schedule") or "textbook").lower()
        if schedule not in SCHEDULES:
            raise UsageError(f"--verify-schedule={schedule!r}: use textbook (every legitimate "
                             "binary64 evaluation of the schedule) or accurate (within 2 ulps "
                             "of exact)")
        convention = values.get("verify_convention") or "auto"
        if convention != "auto":
            from radam_verify.conventions import parse_convention

            parse_convention(convention)
        return cls(impl, convention, kwargs, values.get("verify_device") or "cpu", dtype, profile,
                   values.get("verify_report") or None, seed, shrink == "yes", step_timeout,
                   subnormals, schedule, 2.0 if progress_after is None else progress_after)


def _seconds(values: dict[str, str | None], name: str, *, positive: bool) -> float | None:
    """The option ``name`` as a finite number of seconds (> 0 if ``positive``, else >= 0);
    None where it is not given."""
    raw = values.get(name)
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and (seconds > 0 if positive else seconds >= 0)):
        flag = "--" + name.replace("_", "-")
        kind = "positive" if positive else "non-negative"
        raise UsageError(f"{flag}={raw!r} is not a {kind} number of seconds; e.g. 30")
    return seconds


def build_target(options: VerifyOptions, progress: Callable[[str], None] | None = None,
                 identified: str | None = None, limit_s: float | None = None,
                 ) -> tuple[Target, Identification | None]:
    """The :class:`~radam_verify.suite.target.Target` and, with ``auto``, the identification.

    ``identified``: a convention spec identified earlier (xdist workers reuse the
    controller's), skipping the probes; ``limit_s``: the slowest call the controller saw
    while probing, from which the step limit is derived.
    """
    # while it is probed, a call may take PROBE_LIMIT_S: first calls include one-time work
    # (imports, compilation) that later calls do not repeat
    watchdog.set_limit(watchdog.Limit(PROBE_LIMIT_S, "while probing"))
    try:
        return _build_target(options, progress, identified, limit_s)
    except watchdog.StepTimeout as error:
        raise RadamVerifyError(f"{options.impl}: the {error} while radam-verify probed it (its "
                               "constructor and first steps); nothing was verified") from None


#: the limit on each call into the implementation while it is probed (before the step limit
#: is derived from those calls)
PROBE_LIMIT_S = 120.0


def _build_target(options: VerifyOptions, progress: Callable[[str], None] | None,
                  identified: str | None, limit_s: float | None,
                  ) -> tuple[Target, Identification | None]:
    from radam_verify.adapters import load_adapter
    from radam_verify.conventions import parse_convention
    from radam_verify.identify import identify
    from radam_verify.suite.target import Target

    adapter = load_adapter(options.impl, options.kwargs, options.device, options.dtype)
    flushes = adapter.platform_flushes()
    if flushes is not None and options.subnormals == "platform":
        adapter.fmt = adapter.fmt.flushing()  # error-model.md, section 10
    identification = None
    if options.convention != "auto":
        convention, source = parse_convention(options.convention), "given"
    elif identified is not None:
        convention, source = parse_convention(identified), "identified"
    else:
        identification = identify(_probed(adapter, options), progress)
        chosen = identification.convention or identification.closest
        if chosen is None:  # pragma: no cover - candidates are never empty
            raise RadamVerifyError("identification produced no candidate")
        convention = chosen
        source = "identified" if identification.consistent else "closest"
    # after identification, which tells readings apart with the textbook allowance: how
    # accurate the schedule is, is not a reading (error-model.md, section 2)
    adapter.schedule = options.schedule
    adapter.slow_from = convention.slow_from
    caps = adapter.capabilities
    # an injected state whose running maximum or slow weights the suite cannot set is not a
    # known state
    unset = [what for what, needed, held in (
        ("AMSGrad's running maximum v_max", convention.keeps_max, caps.max_state),
        ("Lookahead's slow weights", convention.lookahead, caps.slow_state)) if needed and not held]
    if unset and caps.inject_state:
        adapter.capabilities = replace(caps, inject_state=False, notes={
            **caps.notes, "inject_state": f"{' and '.join(unset)} cannot be read and set "
            "through this adapter, so no state is injected"})
    target = Target(adapter, convention, source, get_profile(options.profile), options.seed,
                    options.shrink, step_limit(options, limit_s), flushes)
    watchdog.set_limit(target.step_limit)
    return target, identification


def _probed(adapter: Adapter, options: VerifyOptions) -> Adapter:
    """The adapter identification probes: in float32 where the dtype is bfloat16 or float16.

    The convention is the algorithm's, not the dtype's, and the probes tell conventions apart
    by differences (a threshold of 4 or 5 at one step, eps on sqrt(v) or sqrt(v_hat)) that
    bfloat16's error bounds are too wide to resolve; an implementation that takes no float32
    parameters is probed in its own dtype.
    """
    if not adapter.fmt.narrow:
        return adapter
    from radam_verify.adapters import load_adapter

    try:
        return load_adapter(options.impl, options.kwargs, options.device, "float32")
    except RadamVerifyError:
        return adapter


def step_limit(options: VerifyOptions, derived_s: float | None) -> watchdog.Limit:
    """The limit on each call into the implementation: given, the controller's (passed to
    an xdist worker), or derived from the slowest call made so far (while probing)."""
    if options.step_timeout_s is not None:
        return watchdog.Limit(options.step_timeout_s, "given with --verify-step-timeout")
    if derived_s is not None:
        return watchdog.Limit.derived(derived_s)
    return watchdog.Limit.derived(watchdog.slowest_call_s())
