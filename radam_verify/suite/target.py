"""The implementation under test as the packaged properties see it, and what they record.

:class:`Target` bundles the adapter, the convention (given or identified), the profile
and the Hypothesis seed; :meth:`Target.verify` runs a property over a strategy with those
settings. :class:`Record` collects per-property statistics for the JSON verdict, and a
deviation is raised as :class:`DeviationError`, whose message carries the counterexample, the
exact and observed values, the error against the bound, and a pasteable reproduction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st

from radam_verify import watchdog
from radam_verify.adapters import Adapter
from radam_verify.conventions import Convention
from radam_verify.errors import ImplementationError, RadamVerifyError
from radam_verify.suite.examples import seed_only
from radam_verify.suite.profiles import SuiteProfile
from radam_verify.suite.scenario import Outcome, Scenario, TensorVerdict, scenario_json

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    adapter: Adapter
    convention: Convention
    convention_source: str  # "given" or "identified"
    profile: SuiteProfile
    seed: int
    shrink: bool = True
    #: the time limit on each call into the implementation
    step_limit: watchdog.Limit | None = None
    #: how the platform flushes subnormals to zero, in words (None: gradual underflow);
    #: ``adapter.fmt.flushes`` says whether results are judged so
    flushes_subnormals: str | None = None

    def platform(self) -> str:
        """The platform's arithmetic and how it is judged, in one line (for the header)."""
        if self.flushes_subnormals is None:
            return "IEEE gradual underflow (probed)"
        how = ("judged as IEEE arithmetic with subnormals flushed (--verify-subnormals=ieee "
               "judges strictly)" if self.adapter.fmt.flushes else
               "judged strictly (--verify-subnormals=ieee)")
        return f"{self.flushes_subnormals}; {how}"

    def schedule(self) -> str:
        """How the schedule is judged, in one line (for the header)."""
        if self.adapter.schedule == "accurate":
            return ("accurate: rho_t, r_t and the bias corrections within 2 binary64 ulps of "
                    "exact (--verify-schedule=accurate)")
        return ("textbook: every legitimate binary64 evaluation allowed (--verify-schedule="
                "accurate requires 2 ulps)")

    def verify(self, strategy: st.SearchStrategy[Any], prop: Callable[[Any], None],
               examples: int | None = None, designed: Sequence[Any] = ()) -> None:
        """Run ``prop`` on ``examples`` draws of ``strategy`` (default: the profile's), after
        the ``designed`` examples: cases every verdict runs whatever the seed draws, which
        reach a regime by construction (Hypothesis' explicit examples). Hypothesis does not
        shrink an explicit example: where a designed example fails (and the target
        shrinks), the first of its tensors that fails alone (:meth:`Scenario.alone`,
        smallest first) is reported instead, so its counterexample is as small as a drawn
        one's; each of these runs counts as an example run. A tensor alone that raises
        anything else leaves the designed example's own failure to be reported."""

        def run(case: Any) -> None:
            designed_case = any(case is d for d in designed) and isinstance(case, Scenario)
            if not (designed_case and self.shrink):
                prop(case)
                return
            try:
                prop(case)
            except DeviationError:
                for smaller in case.alone():
                    try:
                        prop(smaller)
                    except DeviationError as failure:
                        raise failure from None
                    except Exception:  # not a smaller counterexample: report the first
                        continue
                raise

        test = given(strategy)(run)
        for case in reversed(designed):  # the first designed example runs first
            test = example(case)(test)
        runner = seed(self.seed)(settings(
            max_examples=examples or self.profile.examples, deadline=None, database=None,
            derandomize=False, print_blob=False, report_multiple_bugs=False,
            # no "explain" phase: its line tracing makes shrinking many times slower
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                    *([Phase.shrink] if self.shrink else [])],
            suppress_health_check=list(HealthCheck),
        )(test))
        with seed_only():  # the seed alone decides the examples (radam_verify/suite/examples.py)
            runner()


#: examples between two progress lines of a property
PROGRESS_EVERY = 10


@dataclass
class Record:
    """Statistics of one property: examples run, judged, out of domain, worst errors.

    Per judged example, for its worst element (largest error / bound): the error and the
    bound in ulps of the operand scale, the scale the bound is measured at (``errors``,
    ``bounds``), their ratio (``ratios``), and the example's largest error in ulps of the
    result itself (``result_ulps``), which is large where the result cancels. A bitwise or
    invariant property counts what it ``compared`` instead.
    """

    examples: int = 0
    judged: int = 0
    out_of_domain: int = 0
    ambiguous_steps: int = 0
    worst_ratio: float = 0.0
    errors: list[float] = field(default_factory=list)
    bounds: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    result_ulps: list[float] = field(default_factory=list)
    #: the largest share of a bound the textbook schedule's allowance took (error-model.md,
    #: section 2): how much of the tolerance an inaccurate schedule may use
    schedule_share: float = 0.0
    compared: int = 0  # steps a bitwise or invariant check compared
    compares: str = ""  # what such a check compares, in words
    #: called with a progress line every PROGRESS_EVERY examples (None: quiet)
    show: Callable[[str], None] | None = field(default=None, repr=False, compare=False)
    label: str = ""

    def count(self) -> None:
        """One example of a property that judges no error (bitwise or invariant checks)."""
        self.examples += 1
        if self.show is not None and self.examples % PROGRESS_EVERY == 0:
            self.show(f"{self.label}: {self.examples} examples, {self.compared} steps compared")

    def add(self, outcome: Outcome) -> None:
        self.examples += 1
        if self.show is not None and self.examples % PROGRESS_EVERY == 0:
            self.show(f"{self.label}: {self.examples} examples, worst error/bound "
                      f"{self.worst_ratio:.3g}")
        if outcome.out_of_domain is not None:
            self.out_of_domain += 1
            return
        self.judged += 1
        worst = outcome.worst()
        if worst is not None:
            j = worst.judgement
            self.worst_ratio = max(self.worst_ratio, j.worst_ratio)
            self.ratios.append(j.worst_ratio)
            self.errors.append(j.worst.error_ulps if j.worst else 0.0)
            self.bounds.append(j.worst.bound_ulps if j.worst else 0.0)
            self.result_ulps.append(max(v.judgement.worst_result_ulps for v in outcome.verdicts))
            self.ambiguous_steps += sum(len(v.judgement.ambiguous_steps) for v in outcome.verdicts)
            self.schedule_share = max([self.schedule_share, *(v.judgement.schedule_share
                                                             for v in outcome.verdicts)])

    def as_json(self) -> dict[str, object]:
        keep = [k for k, (e, b, r) in enumerate(zip(self.errors, self.bounds, self.ratios,
                                                    strict=True))
                if math.isfinite(e) and math.isfinite(b) and math.isfinite(r)]

        def finite(values: list[float]) -> list[float]:
            return [values[k] for k in keep]

        return {"examples": self.examples, "judged": self.judged,
                "out_of_domain": self.out_of_domain, "ambiguous_steps": self.ambiguous_steps,
                "compared": self.compared, **({"compares": self.compares} if self.compares else {}),
                "worst_ratio": self.worst_ratio if math.isfinite(self.worst_ratio) else None,
                "schedule_share": self.schedule_share,
                "errors": finite(self.errors), "bounds": finite(self.bounds),
                "ratios": finite(self.ratios), "result_ulps": finite(self.result_ulps)}


class DeviationError(RadamVerifyError, AssertionError):
    """A property failed: the message is the counterexample, ``details`` its data."""

    def __init__(self, message: str, details: dict[str, object]) -> None:
        super().__init__(message)
        self.details = details


class StoppedError(BaseException):
    """A property stopped by a call into the implementation that did not return.

    A ``BaseException`` like :class:`~radam_verify.watchdog.StepTimeout`, so that
    Hypothesis reports it at once (shrinking would run the hanging implementation again for
    every candidate); it carries the deviation, with the example it was running.
    """

    def __init__(self, found: DeviationError) -> None:
        super().__init__(str(found))
        self.deviation = found


def deviation(error: BaseException) -> DeviationError | None:
    """The deviation ``error`` reports, or None when it is an error of the suite itself.

    Hypothesis wraps a failure that did not reproduce on replay (an implementation whose
    result changes between identical runs) in an exception group; it is a deviation when
    every exception in it is one.
    """
    if isinstance(error, DeviationError):
        return error
    if isinstance(error, StoppedError):
        return error.deviation
    if isinstance(error, BaseExceptionGroup) and error.exceptions:
        found = [deviation(e) for e in error.exceptions]
        if all(found):
            return found[0]
    return None


def case(target: Target, scenario: Scenario, check: dict[str, object] | None = None
         ) -> dict[str, object]:
    """Everything that reruns the scenario on the same implementation, as plain data."""
    found: dict[str, object] = {
        "impl": target.adapter.spec, "kwargs": dict(target.adapter.kwargs),
        "device": target.adapter.device, "dtype": target.adapter.dtype,
        "convention": target.convention.spec, "check": check or {"kind": "exact"},
        "scenario": scenario_json(scenario)}
    if target.flushes_subnormals is not None and not target.adapter.fmt.flushes:
        found["subnormals"] = "ieee"  # a flushing platform judged strictly
    if target.adapter.schedule != "textbook":
        found["schedule"] = target.adapter.schedule
    return found


def reproduction(target: Target, scenario: Scenario, check: dict[str, object] | None = None) -> str:
    """A snippet that reruns the scenario on the same implementation and prints the verdict.

    ``check``: which check to replay (default the exact comparison), e.g.
    ``{"kind": "reload", "save_at": 3}``.
    """
    return ("from radam_verify.suite.repro import replay\n"
            f"replay({case(target, scenario, check)!r})")


def context(adapter: Adapter, scenario: Scenario) -> str:
    """Where a finding is: the implementation, the code path, the dtype and the device."""
    path = f"the {scenario.path} path" if scenario.path else "the default path"
    return f"{adapter.spec}, {path}, {adapter.dtype} on {adapter.device}"


def sentence(adapter: Adapter, scenario: Scenario, worst: TensorVerdict) -> str:
    """A deviation in one sentence: where, what, how far, under which inputs."""
    where = worst.judgement.worst
    assert where is not None
    shape = np.shape(scenario.all_groups()[worst.group].params[worst.param])
    at = (f" (element {tuple(int(i) for i in np.unravel_index(where.index, shape))} of shape "
          f"{_shape_of(shape)})" if len(shape) != 1 else "")
    return (f"{context(adapter, scenario)}: {where.quantity}[{where.index}]{at} of group "
            f"{worst.group}, tensor {worst.param} after step {where.t} is "
            f"{where.observed!r} where the exact value is {where.exact} (error "
            f"{_ulps_text(where.error_ulps)} ulps against a bound of "
            f"{_ulps_text(where.bound_ulps)} ulps of the operand scale) {inputs(scenario)}")


def inputs(scenario: Scenario) -> str:
    """The hyperparameters that matter: those of the scenario's groups that differ from the
    paper's defaults (Hyper()), and the sizes of the tensors."""
    from radam_verify.hyper import Hyper

    default = Hyper()
    groups = scenario.all_groups()

    def described(hypers: list[Hyper]) -> list[str]:
        parts = []
        for k, hyper in enumerate(hypers):
            changed = [f"{name} = {getattr(hyper, name)!r}" for name in
                       ("lr", "beta1", "beta2", "eps", "weight_decay", "maximize")
                       if getattr(hyper, name) != getattr(default, name)]
            if changed:
                parts.append((f"group {k}: " if len(hypers) > 1 else "") + ", ".join(changed))
        return parts

    parts = described([g.hyper for g in groups])
    retuned = "".join(f", set to {'; '.join(described(list(h))) or 'the defaults'} before step "
                      f"{k + 1}" for k, h in scenario.retuned)
    shapes = list(dict.fromkeys(_shape(p) for g in groups for p in g.params))
    tensors = sum(len(g.params) for g in groups)
    return (f"with {'; '.join(parts) if parts else 'the default hyperparameters'}{retuned} "
            f"({len(scenario.steps)} step{'s' * (len(scenario.steps) != 1)}, {len(groups)} "
            f"group{'s' * (len(groups) != 1)}, {tensors} tensor{'s' * (tensors != 1)} of "
            f"shape{'s' * (len(shapes) != 1)} {_listed(shapes)})")


def _listed(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _shape(values: np.ndarray) -> str:
    """``(3, 11)``, ``(7,)``; a 0-d tensor is ``()``."""
    return _shape_of(np.shape(values))


def _shape_of(shape: tuple[int, ...]) -> str:
    return str(tuple(int(n) for n in shape))


def fail(target: Target, what: str, scenario: Scenario, message: str,
         details: dict[str, object] | None = None, check: dict[str, object] | None = None,
         summary_sentence: str | None = None) -> DeviationError:
    """The exception for a deviation, with its one-sentence summary and the reproduction."""
    snippet = reproduction(target, scenario, check)
    summary = summary_sentence or (f"{context(target.adapter, scenario)}: {what}: "
                                   f"{message.splitlines()[0]} {inputs(scenario)}")
    text = (f"{what}\n{summary}\n{message}\nconvention {target.convention.spec}, "
            f"{target.adapter.describe()}\nreproduce with:\n{snippet}")
    return DeviationError(text, {"property": what, "sentence": summary, "message": message,
                                 "reproduction": snippet, "case": case(target, scenario, check),
                                 **(details or {})})


def calling(target: Target, what: str, scenario: Scenario, action: Callable[[], T],
            check: dict[str, object] | None = None) -> T:
    """Run ``action``; an exception of the implementation's own code becomes a failed property.

    Only :class:`ImplementationError` (raised by the adapters around their calls into the
    implementation) is the implementation's; anything else raised while running, reading or
    judging is the suite's own error and propagates as such (an internal error). A call that
    does not return within the limit (:mod:`radam_verify.watchdog`) stops the property with
    this example as its counterexample so far.
    """
    with watchdog.example(lambda: _recorded(target, what, scenario, check)) as progress:
        try:
            return action()
        except ImplementationError as error:
            raise fail(target, what, scenario, f"the implementation raised {error}",
                       {"quantity": "exception", "exception": str(error)}, check) from error.error
        except watchdog.StepTimeout as error:
            limit = watchdog.limit()
            source = f" (the limit: {limit.source})" if limit is not None else ""
            raise StoppedError(fail(
                target, what, scenario, f"the {error}{source}; the example had made "
                f"{progress()} when it was stopped", {"quantity": "timeout"}, check)) from None


#: a worker records an example's case (to report it if the process dies) up to this many
#: drawn values; a larger one is named by its shapes only (writing it would cost more than
#: running it)
RECORDED_VALUES = 20_000


def _recorded(target: Target, what: str, scenario: Scenario,
              check: dict[str, object] | None) -> dict[str, object]:
    groups = scenario.all_groups()
    values = sum(p.size for g in groups for p in g.params) * (1 + len(scenario.steps))
    if values > RECORDED_VALUES:
        shapes = [[list(np.shape(p)) for p in g.params] for g in groups]
        return {"what": what, "omitted": f"an example of {values} values (tensor shapes "
                f"{shapes}, {len(scenario.steps)} steps) is not recorded"}
    return {"what": what, "case": case(target, scenario, check),
            "reproduction": reproduction(target, scenario, check)}


def require_conforms(target: Target, what: str, scenario: Scenario, outcome: Outcome,
                     record: Record, check: dict[str, object] | None = None) -> None:
    """Record the outcome; raise :class:`DeviationError` naming the worst element when it
    fails (``check``: the check that judged it, for the reproduction; default ``exact``)."""
    record.add(outcome)
    if outcome.out_of_domain is not None or outcome.conforms:
        return
    worst = outcome.worst()
    assert worst is not None
    assert worst.judgement.worst is not None
    where = worst.judgement.worst
    group = scenario.all_groups()[worst.group]
    message = (f"group {worst.group}, tensor {worst.param}: {where.describe()} "
               f"(error / bound = {where.ratio:.3g})\nhyperparameters: {group.hyper}")
    raise fail(target, what, scenario, message, {
        "group": worst.group, "tensor": worst.param, "quantity": where.quantity,
        "index": where.index, "t": where.t, "exact": where.exact, "observed": where.observed,
        "error_ulps": where.error_ulps, "bound_ulps": where.bound_ulps,
        "result_ulps": where.error / where.ulp if where.ulp else None,
        "ratio": where.ratio if math.isfinite(where.ratio) else None,
        "hyper": scenario_json(scenario)["groups"]}, check,
        summary_sentence=sentence(target.adapter, scenario, worst))


def _ulps_text(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "inf"
