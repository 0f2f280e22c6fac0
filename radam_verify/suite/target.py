"""The implementation under test as the packaged properties see it, and what they record.

:class:`Target` bundles the adapter, the convention (given or identified), the profile
and the Hypothesis seed; :meth:`Target.verify` runs a property over a strategy with those
settings. :class:`Record` collects per-property statistics for the JSON verdict, and a
deviation is raised as :class:`DeviationError`, whose message carries the counterexample, the
exact and observed values, the error against the bound, and a pasteable reproduction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from radam_verify.adapters import Adapter
from radam_verify.conventions import Convention
from radam_verify.errors import ImplementationError, RadamVerifyError
from radam_verify.suite.profiles import SuiteProfile
from radam_verify.suite.scenario import Outcome, Scenario, scenario_json

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    adapter: Adapter
    convention: Convention
    convention_source: str  # "given" or "identified"
    profile: SuiteProfile
    seed: int
    shrink: bool = True

    def verify(self, strategy: st.SearchStrategy[Any], prop: Callable[[Any], None],
               examples: int | None = None) -> None:
        """Run ``prop`` on ``examples`` draws of ``strategy`` (default: the profile's)."""
        runner = seed(self.seed)(settings(
            max_examples=examples or self.profile.examples, deadline=None, database=None,
            derandomize=False, print_blob=False, report_multiple_bugs=False,
            # no "explain" phase: its line tracing makes shrinking many times slower
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                    *([Phase.shrink] if self.shrink else [])],
            suppress_health_check=list(HealthCheck),
        )(given(strategy)(prop)))
        runner()


#: examples between two progress lines of a property
PROGRESS_EVERY = 10


@dataclass
class Record:
    """Statistics of one property: examples run, judged, out of domain, worst errors."""

    examples: int = 0
    judged: int = 0
    out_of_domain: int = 0
    ambiguous_steps: int = 0
    worst_ratio: float = 0.0
    ulps: list[float] = field(default_factory=list)  # the worst error of each judged example
    ratios: list[float] = field(default_factory=list)  # its worst error / bound
    #: called with a progress line every PROGRESS_EVERY examples (None: quiet)
    show: Callable[[str], None] | None = field(default=None, repr=False, compare=False)
    label: str = ""

    def add(self, outcome: Outcome) -> None:
        self.examples += 1
        if self.show is not None and self.examples % PROGRESS_EVERY == 0:
            self.show(f"{self.label}: {self.examples} examples, worst error/bound "
                      f"{self.worst_ratio:.3g}")
        if outcome.out_of_domain is not None:
            self.out_of_domain += 1
            return
        self.judged += 1
        if outcome.verdicts:
            worst = max(v.judgement.worst_ratio for v in outcome.verdicts)
            self.worst_ratio = max(self.worst_ratio, worst)
            self.ratios.append(worst)
            self.ulps.append(max(v.judgement.worst_error_ulps for v in outcome.verdicts))
            self.ambiguous_steps += sum(len(v.judgement.ambiguous_steps) for v in outcome.verdicts)

    def as_json(self) -> dict[str, object]:
        finite = [u for u in self.ulps if math.isfinite(u)]
        return {"examples": self.examples, "judged": self.judged,
                "out_of_domain": self.out_of_domain, "ambiguous_steps": self.ambiguous_steps,
                "worst_ratio": self.worst_ratio if math.isfinite(self.worst_ratio) else None,
                "ulps": finite, "ratios": [r for r in self.ratios if math.isfinite(r)]}


class DeviationError(RadamVerifyError, AssertionError):
    """A property failed: the message is the counterexample, ``details`` its data."""

    def __init__(self, message: str, details: dict[str, object]) -> None:
        super().__init__(message)
        self.details = details


def deviation(error: BaseException) -> DeviationError | None:
    """The deviation ``error`` reports, or None when it is an error of the suite itself.

    Hypothesis wraps a failure that did not reproduce on replay (an implementation whose
    result changes between identical runs) in an exception group; it is a deviation when
    every exception in it is one.
    """
    if isinstance(error, DeviationError):
        return error
    if isinstance(error, BaseExceptionGroup) and error.exceptions:
        found = [deviation(e) for e in error.exceptions]
        if all(found):
            return found[0]
    return None


def reproduction(target: Target, scenario: Scenario, check: dict[str, object] | None = None) -> str:
    """A snippet that reruns the scenario on the same implementation and prints the verdict.

    ``check``: which check to replay (default the exact comparison), e.g.
    ``{"kind": "reload", "save_at": 3}``.
    """
    case = {"impl": target.adapter.spec, "kwargs": dict(target.adapter.kwargs),
            "device": target.adapter.device, "dtype": target.adapter.dtype,
            "convention": target.convention.spec, "check": check or {"kind": "exact"},
            "scenario": scenario_json(scenario)}
    return ("from radam_verify.suite.repro import replay\n"
            f"replay({case!r})")


def fail(target: Target, what: str, scenario: Scenario, message: str,
         details: dict[str, object] | None = None, check: dict[str, object] | None = None
         ) -> DeviationError:
    """The exception for a deviation, with the reproduction appended."""
    snippet = reproduction(target, scenario, check)
    text = (f"{what}\n{message}\nconvention {target.convention.spec}, "
            f"{target.adapter.describe()}\nreproduce with:\n{snippet}")
    return DeviationError(text, {"property": what, "message": message, "reproduction": snippet,
                            **(details or {})})


def calling(target: Target, what: str, scenario: Scenario, action: Callable[[], T],
            check: dict[str, object] | None = None) -> T:
    """Run ``action``; an exception of the implementation's own code becomes a failed property.

    Only :class:`ImplementationError` (raised by the adapters around their calls into the
    implementation) is the implementation's; anything else raised while running, reading or
    judging is the suite's own error and propagates as such (an internal error).
    """
    try:
        return action()
    except ImplementationError as error:
        raise fail(target, what, scenario, f"the implementation raised {error}",
                   {"quantity": "exception", "exception": str(error)}, check) from error.error


def require_conforms(target: Target, what: str, scenario: Scenario, outcome: Outcome,
                     record: Record) -> None:
    """Record the outcome; raise :class:`DeviationError` naming the worst element when it fails."""
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
        "error_ulps": where.error / where.ulp if where.ulp else None,
        "bound_ulps": where.bound / where.ulp if where.ulp else None,
        "ratio": where.ratio if math.isfinite(where.ratio) else None,
        "hyper": scenario_json(scenario)["groups"]})
