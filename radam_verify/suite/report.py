"""The JSON verdict of a run (schema ``radam-verify/conformance/1``, every field described in
``verdict.schema.json`` beside this module) and its summary line.

Fields: ``implementation`` (spec, kind, distribution, version, framework, kwargs), ``convention`` (spec, axes,
``source``: given, identified or closest, and the identification with its evidence),
``device``, ``dtype``, ``profile``, ``seed``, ``verdict`` (``conforms``, ``deviates``, or
``error`` when the suite itself failed on a property and so reached no verdict),
``properties`` (per test: outcome, skip reason, duration, examples, judged, out of domain,
ambiguous steps, worst error/bound ratio, for each judged example the error and bound of its
worst element in ulps of the operand scale (``errors``, ``bounds``, ``ratios``; ``units``
says what the scale is) and its error in ulps of the result (``result_ulps``), and for a
failure the counterexample: its one-sentence summary, exact and observed values, error and
bound, the case, the reproduction and the stand-alone script) and ``timing``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radam_verify.judge import UNITS

if TYPE_CHECKING:
    from radam_verify.identify import Identification
    from radam_verify.suite.target import Target

SCHEMA = "radam-verify/conformance/1"
SCHEMA_FILE = Path(__file__).with_name("verdict.schema.json")


#: symbols of the paper that a test name may contain (they keep their underscore)
SYMBOLS = ("r_t", "rho_t", "rho_inf", "m_hat", "v_hat")


def title_of(test: str) -> str:
    """A property's title from its test name: ``test_every_code_path_conforms[foreach]`` ->
    ``Every code path conforms: foreach``."""
    name, _, parameter = test.split("::")[-1].partition("[")
    words = f" {name.removeprefix('test_').replace('_', ' ')} "
    for symbol in SYMBOLS:
        words = words.replace(f" {symbol.replace('_', ' ')} ", f" {symbol} ")
    words = words.strip()
    title = words[:1].upper() + words[1:]
    return f"{title}: {parameter.rstrip(']')}" if parameter else title


def strict(value: Any) -> Any:
    """``value`` with every non-finite float as the string ``nan``, ``inf`` or ``-inf``, so that
    the verdict is strict JSON that any parser reads."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict(item) for item in value]
    return value


def dumps(verdict: dict[str, Any]) -> str:
    """The verdict as strict, indented JSON text."""
    return json.dumps(strict(verdict), indent=2, allow_nan=False) + "\n"


def verdict_json(target: Target, identification: Identification | None,
                 properties: Sequence[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    adapter = target.adapter
    failed = [p for p in properties if p["outcome"] == "failed"]
    errors = [p for p in properties if p["outcome"] == "error"]
    return {
        "schema": SCHEMA,
        "implementation": {"spec": adapter.spec, "kind": adapter.kind, "version": adapter.version,
                           "distribution": adapter.distribution, "framework": adapter.framework,
                           "hyperparameter_keys": adapter.hyperparameter_keys,
                           "state_layout": adapter.state_layout.to_json(),
                           "kwargs": dict(adapter.kwargs),
                           "unsupported": dict(adapter.capabilities.notes)},
        "convention": {"spec": target.convention.spec, "axes": target.convention.axes(),
                       "source": target.convention_source,
                       "identification": identification.as_json() if identification else None},
        "device": adapter.device, "dtype": adapter.dtype, "profile": target.profile.name,
        "platform": {"flushes_subnormals": target.flushes_subnormals,
                     "subnormals": "flushed" if adapter.fmt.flushes else "ieee"},
        "schedule": adapter.schedule,
        "units": dict(UNITS),
        "seed": target.seed,
        "verdict": "error" if errors else "deviates" if failed else "conforms",
        "counts": {outcome: sum(p["outcome"] == outcome for p in properties)
                   for outcome in ("passed", "failed", "skipped", "error")},
        "properties": sorted(properties, key=lambda p: str(p["id"])),
        "timing": {"total_s": round(elapsed, 3),
                   **({"step_limit_s": target.step_limit.seconds,
                       "step_limit_source": target.step_limit.source}
                      if target.step_limit is not None else {})},
    }


def summary_line(verdict: dict[str, Any]) -> str:
    """One actionable line: the verdict, and what to look at when it deviates."""
    counts = verdict["counts"]
    name = verdict["implementation"]["spec"]
    convention = verdict["convention"]["spec"]
    if verdict["verdict"] == "conforms":
        return (f"radam-verify: {name} CONFORMS to {convention} ({counts['passed']} properties "
                f"passed, {counts['skipped']} skipped)")
    if verdict["verdict"] == "error":
        broken = [p for p in verdict["properties"] if p["outcome"] == "error"]
        return (f"radam-verify: INTERNAL ERROR of radam-verify in {broken[0]['property']} "
                f"({broken[0]['internal_error']['exception']}): no verdict on {name}; this is a "
                "bug of radam-verify, not of the implementation; the traceback above is for "
                "radam-verify's maintainers")
    failed = [p["property"] for p in verdict["properties"] if p["outcome"] == "failed"]
    return (f"radam-verify: {name} DEVIATES from {convention}: {', '.join(failed)} failed; each "
            "failure above shows the counterexample and a reproduction snippet")
