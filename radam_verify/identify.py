"""Identify an implementation's algorithm (RAdam, Adam or LAMB) and convention from a few probes.

Each probe is a short deterministic run chosen to separate axes: the early steps with
b2 = 0.999 (steps 1-4 are below either threshold, step 5 has rho_5 between 4 and 5: ``sgd``
against ``skip`` and threshold 4 against 5), tiny gradients with a large eps (where eps sits),
weight decay on non-zero parameters (L2, decoupled or unscaled decay, and decay on skipped
steps) and b2 = 0.5 (rho_inf < 4: no RAdam convention ever rectifies). Adam rectifies every
step with r_t = 1, so the early steps alone already set it apart from RAdam; large gradients
followed by small ones let v fall below its earlier values, which AMSGrad's running maximum
(of v, or of v_hat) does not follow. LAMB's step has norm lr phi(||theta||) whatever the
gradients, which sets it apart on the early steps; large parameters (||theta|| = 45) show
whether phi is clamped at 10 and the ratio at 1. Every candidate convention, one per combination of axis
values, is judged on every probe with the exact reference and the error model; the axes are
read off the candidates that survive. An axis whose values no probe can separate is reported
as undetermined, with the reason. Lookahead's k and alpha are read from an instance the
adapter builds; built in, every candidate is judged with each start of the slow weights;
a wrapper has its inner optimizer identified alone first (:func:`_identify_lookahead`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from radam_verify.adapters import Adapter, GroupSpec, ParamState
from radam_verify.conventions import (
    ALGORITHM_AXES,
    LOOKAHEAD_COUNTS,
    LOOKAHEAD_STARTS,
    LOOKAHEAD_SYNCS,
    PRESETS,
    Amsgrad,
    BiasCorrection,
    Convention,
    LookaheadCount,
    Scalars,
)
from radam_verify.errors import ConventionError, ImplementationError, UsageError
from radam_verify.hyper import Hyper
from radam_verify.suite.scenario import Scenario, judge, run

AXES_REPORTED = ("algorithm", "threshold", "comparison", "below", "eps", "weight_decay",
                 "decay_on_skip", "amsgrad", "bias_correction", "phi_max", "trust_max", "adapt",
                 "clip_norm", "scalars")

_COMPARISON_REASON = (
    "'>' and '>=' differ only where rho_t equals the threshold exactly; for binary64 b2 the "
    "exact rho_t is never found there, and within binary64's error of evaluating rho_t both "
    "branches are legitimate, so no probe can tell them apart")


@dataclass(frozen=True)
class Probe:
    name: str
    purpose: str
    scenario: Scenario
    #: the algorithms whose axes the probe reads (empty: every one); it is run only while a
    #: candidate of one of them is left
    algorithms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identification:
    """The identified axes (None: unknown), the matching preset, and the evidence."""

    axes: dict[str, object]
    preset: str | None
    convention: Convention | None  # what to verify against (None: no consistent RAdam)
    consistent: bool
    undetermined: dict[str, str] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()
    closest: Convention | None = None  # the candidate nearest the observations

    def as_json(self) -> dict[str, object]:
        return {"convention": self.preset, "axes": self.axes, "consistent": self.consistent,
                "undetermined": self.undetermined, "evidence": list(self.evidence),
                "verify_against": self.convention.spec if self.convention else None}

    def summary(self) -> str:
        known = ", ".join(f"{k}={_text(v)}" for k, v in self.axes.items() if v is not None)
        if not self.consistent:
            return "no consistent RAdam, Adam or LAMB convention matches (see the evidence)"
        name = self.preset or "no preset"
        return f"{name} ({known}; undetermined: {', '.join(self.undetermined) or 'none'})"


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def probes(adapter: Adapter) -> list[Probe]:
    """The deterministic probes (weight decay only where the implementation accepts it)."""
    def scenario(hyper: Hyper, theta0: list[float], grads: list[list[float]]) -> Scenario:
        return _probe_scenario(adapter, hyper, theta0, grads)

    base = [0.3, -0.2, 0.05, 1.0]
    early = [[g * (1 + 0.25 * k) * (-1) ** (k // 3) for g in base] for k in range(7)]
    found = [
        Probe("early steps", "RAdam or Adam (Adam rectifies from step 1); below RAdam's threshold "
              "(sgd or skip), and threshold 4 or 5 at step 5",
              scenario(Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8),
                       [0.5, -1.25, 2.0, 0.0], early)),
        Probe("eps placement", "eps on sqrt(v) (raw) or on sqrt(v_hat) (hat)",
              scenario(Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-3),
                       [0.5, -1.25, 2.0, 0.0], [[g * 1e-3 for g in row] for row in early] + [
                           [2e-3, -1e-3, 5e-4, 1e-3]])),
        Probe("small beta2", "b2 = 0.5: rho_inf = 3 < 4, so no RAdam convention ever rectifies "
              "(Adam still does)",
              scenario(Hyper(lr=1e-2, beta1=0.9, beta2=0.5, eps=1e-8),
                       [0.5, -1.25, 2.0, 0.0], early)),
        Probe("falling gradients", "two large gradients, then small ones: v falls, AMSGrad's "
              "running maximum (of v, or of v_hat) does not",
              scenario(Hyper(lr=1e-2, beta1=0.9, beta2=0.9, eps=1e-8),
                       [0.5, -1.25, 2.0, 0.0],
                       [base, [-g for g in base]] + [[g * 1e-2 for g in base]] * 5)),
    ]
    lamb = ("lamb",)
    if adapter.capabilities.weight_decay:
        found.append(Probe(
            "weight decay", "L2, decoupled (1 - lr wd) or unscaled (1 - wd) decay, and "
            "decay on steps that make no update",
            scenario(Hyper(lr=5e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1),
                     [1.5, -2.0, 3.0, 0.5], [[g * 0.1 for g in row] for row in early] + [
                         [0.02, -0.01, 0.03, 0.01]])))
    found.append(Probe(
        "large parameters", "LAMB's trust ratio at ||theta|| = 45: phi(||theta||) clamped at "
        "10 or not, the ratio (about 20) clipped at 1 or not",
        scenario(Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8), [20.0, -25.0, 30.0, 5.0],
                 early[:3]), lamb))
    found.append(Probe(
        "small parameters", "||theta|| = 0.06, far below the direction's norm: LAMB's trust "
        "ratio (about 0.03) applies even where it is clipped at 1, where Adam takes its full "
        "step",
        scenario(Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8), [0.05, -0.02, 0.03, 0.01],
                 early[:3]), lamb))
    if adapter.capabilities.weight_decay:
        found.append(Probe(
            "small parameters with decay", "weight decay where ||theta|| = 0.06 is far below "
            "the direction's norm: LAMB's trust ratio (about 0.03) applies to decayed tensors "
            "even where it is clipped at 1, and the decay inside the ratio or beside it",
            scenario(Hyper(lr=5e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1),
                     [0.05, -0.02, 0.03, 0.01], early[:3]), lamb))
        found.append(Probe(
            "large parameters with decay", "the large-parameter probe with weight decay: phi "
            "clamped at 10 or not, and the ratio (about 9) clipped at 1 or not, for a reading "
            "that applies the ratio only to decayed tensors",
            scenario(Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1),
                     [20.0, -25.0, 30.0, 5.0], early[:3]), lamb))
    return found


_AMSGRAD: tuple[Amsgrad, ...] = ("none", "v", "v_hat")
#: both moments corrected, neither, only m, only v (optax's amsgrad flags)
_BIAS_CORRECTIONS: tuple[BiasCorrection, ...] = (True, False, "m", "v")
#: what one probe's run gives: the state each tensor started from, and after each step
_Run = tuple[list[list[ParamState]], list[list[list[ParamState]]]]


def candidates(adapter: Adapter) -> list[Convention]:
    """Every combination of axis values, RAdam's, Adam's and LAMB's (decay modes only where
    weight decay is accepted; RAdam's and Adam's include decay merged into the update, which
    reproduces whatever decoupled decay does, so :func:`identify` keeps the stricter where
    both fit; AMSGrad's maxima only beside raw moments, the layout they are mapped in)."""
    decays = ("l2", "decoupled", "decoupled-unscaled", "merged", "none") \
        if adapter.capabilities.weight_decay else ("none",)
    scalars: tuple[Scalars, ...] = ("float64", "float32")
    radam = [Convention(threshold, comparison, below, eps, wd, on_skip,  # type: ignore[arg-type]
                        scalars=kind)
             for kind, threshold, comparison, below, eps, wd, on_skip in itertools.product(
                 scalars, (4.0, 5.0), (">", ">="), ("sgd", "skip"), ("raw", "hat"), decays,
                 (True, False))]
    # where v is not bias-corrected eps=raw is eps=hat and amsgrad=v_hat is amsgrad=v: one
    # each; a debiased layout's moments are both corrected
    adam = [Convention(eps=eps, weight_decay=wd, algorithm="adam",  # type: ignore[arg-type]
                       scalars=kind, amsgrad=amsgrad, bias_correction=corrected)
            for kind, corrected, eps, wd, amsgrad in itertools.product(
                scalars, _BIAS_CORRECTIONS, ("raw", "hat"), decays, _AMSGRAD)
            if (amsgrad != "v_hat" or eps == "hat")  # the maximum of v_hat: eps on its root
            and (amsgrad == "none" or not adapter.state_layout.debiased)
            and (corrected is True or not adapter.state_layout.debiased)
            and (corrected in (True, "v") or (eps == "hat" and amsgrad != "v_hat"))]
    lamb_decays = tuple(wd for wd in ("in-ratio", "decoupled", "none")
                        if wd == "none" or adapter.capabilities.weight_decay)
    # without bias correction eps=raw and eps=hat are one reading: only hat is a candidate;
    # the clamps are the libraries' constants (phi at 10: torch-optimizer, pytorch-optimizer;
    # the ratio at 1: timm's trust_clip), and so is the gradients' global clipping (at 1:
    # timm's max_grad_norm)
    lamb = [Convention(eps=eps, weight_decay=wd, algorithm="lamb",  # type: ignore[arg-type]
                       scalars=kind, bias_correction=corrected, phi_max=phi, trust_max=clip,
                       adapt=adapt, clip_norm=norm)  # type: ignore[arg-type]
            for kind, corrected, eps, wd, phi, clip, adapt, norm in itertools.product(
                scalars, (True, False), ("raw", "hat"), lamb_decays, (math.inf, 10.0),
                (math.inf, 1.0), ("always", "with-decay"), (math.inf, 1.0))
            if (corrected or eps == "hat") and not adapter.state_layout.debiased
            # without weight decay, adapting only decayed tensors never adapts: that is Adam
            and (adapt == "always" or adapter.capabilities.weight_decay)]
    found = radam + adam + lamb
    if adapter.capabilities.eps_root:  # a constructor keyword: every reading carries it
        found = [replace(c, eps_root=adapter.capabilities.eps_root) for c in found]
    return found


#: per parameter format, the readings holding hyperparameters in binary32 that are tried, in
#: order, where no other reading reproduces the probes: (the scalars of the candidates they
#: vary, the held reading, what it holds in binary32)
_HELD: dict[str, tuple[tuple[Scalars, Scalars, str], ...]] = {
    "float32": (("float32", "float32-held", "lr, the betas, eps and the weight decay"),),
    "float64": (("float64", "float32-lr", "lr alone"),
                ("float64", "float32-betas", "beta1, beta2 and eps")),
}


def identify(adapter: Adapter, progress: Callable[[str], None] | None = None) -> Identification:
    """Run the probes once and keep the conventions that reproduce every one of them (for a
    Lookahead wrapper: the inner optimizer's reading first, then Lookahead's,
    :func:`_identify_lookahead`); where none does and the parameters are float32, the
    readings that hold the hyperparameters themselves in binary32 (``scalars=float32-held``)
    are judged on the same runs, and where the parameters are float64, those that hold lr
    alone in binary32 (``scalars=float32-lr``)."""
    wrapper = adapter.lookahead()
    built_in = None
    if wrapper is not None:
        inner, k, alpha = wrapper
        if inner is not None:
            return _identify_lookahead(adapter, inner, k, alpha, progress)
        built_in = (k, alpha)
    found = probes(adapter)
    alive = candidates(adapter)
    if built_in is not None:  # Lookahead built in (Ranger): every reading with its k, alpha
        alive = [replace(c, lookahead_k=built_in[0], lookahead_alpha=built_in[1],
                         lookahead_start=start) for c in alive for start in LOOKAHEAD_STARTS]
    runs: dict[str, _Run] = {}
    score, rejected_by, ran = _eliminate(adapter, found, alive, runs, progress)
    survivors = [c for i, c in enumerate(alive) if i not in rejected_by]
    closest = alive[min(score, key=lambda i: score[i])]
    held_note = None
    for given, holding, what in _HELD.get(adapter.fmt.name, ()):
        if survivors:
            break
        # last, the readings that hold hyperparameters in binary32: all of them in float32
        # (the parameters' format), the moments' 1 - beta formed from them; in float64 lr
        # alone, or the betas and eps: tried only where no other reading reproduces the
        # probes (the same probes, each run once)
        held = [replace(c, scalars=holding) for c in alive if c.scalars == given]
        held_score, held_rejected, held_ran = _eliminate(adapter, found, held, runs, progress)
        if len(held_rejected) < len(held):
            alive, score, rejected_by = held, held_score, held_rejected
            ran += [p for p in held_ran if p not in ran]
            survivors = [c for i, c in enumerate(alive) if i not in rejected_by]
            held_note = (f"scalars={holding}: no reading with the hyperparameters as given "
                         "(scalars in binary64 or binary32) reproduces every probe; with "
                         f"{what} held as binary32 numbers, "
                         f"{len(survivors)} {'does' if len(survivors) == 1 else 'do'}")
    lr_note = None
    if (adapter.fmt.name == "float64" and survivors
            and all(c.scalars == "float32" for c in survivors)):
        # binary32 scalars reproduce every probe and binary64 ones do not: lr alone held as
        # a binary32 number (Keras 3), the rest in binary64, is the stricter reading where
        # it reproduces them too (the same probes, each run once)
        held = [replace(c, scalars="float32-lr") for c in survivors]
        _, held_rejected, held_ran = _eliminate(adapter, found, held, runs, progress)
        kept = [c for i, c in enumerate(held) if i not in held_rejected]
        if kept:
            survivors = kept
            ran += [p for p in held_ran if p not in ran]
            lr_note = ("scalars=float32-lr: binary32 scalars reproduce every probe and binary64 "
                       "ones do not; with lr alone held as a binary32 number and the rest in "
                       "binary64, the stricter reading, they are reproduced too")
    evidence = [f"probe '{p.name}' ({p.purpose})" for p in ran]
    if lr_note:
        evidence.append(lr_note)
    if built_in is not None:
        evidence.insert(0, f"Lookahead built in, with k = {built_in[0]} and alpha = "
                           f"{_text(built_in[1])} (as an instance it builds holds them): every "
                           "candidate reading with each start of the slow weights")
    if not survivors:
        evidence += _inconsistency(alive, rejected_by)
        return Identification(dict.fromkeys(AXES_REPORTED), None, None, False, {}, tuple(evidence),
                              closest)
    if held_note:
        evidence.append(held_note)
    if {c.scalars for c in survivors} == {"float64", "float32"}:
        # binary32's allowance is the looser: where binary64 scalars reproduce every probe,
        # the stricter reading is the one verified (and the probes read the other axes in it)
        survivors = [c for c in survivors if c.scalars == "float64"]
        evidence.append("scalars=float64: binary64 scalars reproduce every probe (binary32's "
                        "looser allowance does too; the stricter reading is verified)")
    if {"decoupled", "merged"} <= {c.weight_decay for c in survivors}:
        # one exact step, evaluated two ways: the merged evaluation's bound holds the
        # decoupled one's, so where both reproduce every probe the stricter is verified
        survivors = [c for c in survivors if c.weight_decay != "merged"]
        evidence.append("weight_decay=decoupled: decay merged into the update, theta - lr (u + "
                        "wd theta), is the same exact step and reproduces every probe as well "
                        "(no probe tells the two evaluations apart: their bounds differ by "
                        "about two ulps of theta); the stricter reading is verified, so an "
                        "implementation that merges the decay (optax.adamw does) is verified "
                        "with weight_decay=merged named")
    if adapter.capabilities.retune:
        survivors, note = _identify_powers(adapter, survivors, runs, progress)
        evidence.append(note)
    axes, undetermined = _read_axes(survivors, adapter)
    if all(c.powers == "running" for c in survivors):
        axes["powers"] = "running"
    eps_root = adapter.capabilities.eps_root
    if eps_root:
        axes["eps_root"] = eps_root
        evidence.append(f"eps_root = {_text(eps_root)}, added inside the root as the "
                        "constructor's keywords give it: every candidate reading carries it")
    if built_in is not None:
        axes.update(lookahead_k=built_in[0], lookahead_alpha=built_in[1])
        starts = {c.lookahead_start for c in survivors}
        axes["lookahead_start"] = starts.pop() if len(starts) == 1 else None
        if axes["lookahead_start"] is None:
            undetermined["lookahead_start"] = (
                f"values {sorted(c.lookahead_start for c in survivors)} all reproduce every "
                "probe")
    preset = _matching_preset(axes)
    chosen = PRESETS[preset] if preset else survivors[0]
    if preset and axes.get("scalars", "float64") != "float64":
        # a preset's reading, its scalars (or its hyperparameters too) in binary32
        chosen = replace(chosen, scalars=axes["scalars"])  # type: ignore[arg-type]
        preset = chosen.spec
    if preset and axes.get("powers") == "running":  # a preset's reading, running powers
        chosen = replace(chosen, powers="running")
        preset = chosen.spec
    clip = axes.get("clip_norm")
    if preset and isinstance(clip, float) and math.isfinite(clip):
        # a LAMB preset's reading with the gradients clipped (a constructor argument)
        chosen = replace(chosen, clip_norm=clip)
        preset = chosen.spec
    if preset and eps_root:  # a preset's reading with the constructor's eps_root
        chosen = replace(chosen, eps_root=eps_root)
        preset = chosen.spec
    if preset and built_in is not None:  # a Lookahead preset's reading, with this k and alpha
        chosen = replace(chosen, lookahead_k=built_in[0], lookahead_alpha=built_in[1])
        preset = chosen.spec
    evidence += _eliminations(alive, rejected_by, axes, chosen)
    return Identification(axes, preset, chosen, True, undetermined, tuple(evidence), chosen)


def _probe_scenario(adapter: Adapter, hyper: Hyper, theta0: list[float],
                    grads: list[list[float]],
                    retuned: tuple[tuple[int, tuple[Hyper, ...]], ...] = ()) -> Scenario:
    """One tensor of ``theta0`` stepped with ``grads``, each rounded to the implementation's
    format, maximize as its keywords fix it (``retuned``: as a schedule sets them)."""
    ascend = bool(adapter.capabilities.maximize_fixed)  # keywords that fix maximize=True
    typed = adapter.to_format
    theta = typed(np.asarray(theta0)).astype(np.float64)
    steps = tuple(((typed(np.asarray(g)).astype(np.float64),),) for g in grads)
    retuned = tuple((k, tuple(replace(h, maximize=ascend) for h in hs)) for k, hs in retuned)
    return Scenario((GroupSpec(replace(hyper, maximize=ascend), (theta,)),), steps,
                    retuned=retuned)


def _changed_betas(adapter: Adapter) -> Probe:
    """Six steps at beta1 = beta2 = 0.9 (rho_6 = 5.4: rectified under threshold 4 or 5),
    then beta1 = 0.8 and beta2 = 0.99 set before step 7: b1^7 against 0.9^6 0.8 and b2^7
    against 0.9^6 0.99 in the bias corrections and rho_7 (6.8 against 183), every reading
    rectified; eps = 1e-3 beside the smallest gradient, so that the corrections move the
    direction, which LAMB's trust ratio would otherwise scale away."""
    hyper = Hyper(lr=1e-2, beta1=0.9, beta2=0.9, eps=1e-3)
    base = [0.3, -0.2, 2e-3, 1.0]
    grads = [[g * (1 + 0.25 * (k % 3)) * (-1) ** (k // 4) for g in base] for k in range(8)]
    return Probe("changed betas", "beta1 0.9 -> 0.8 and beta2 0.9 -> 0.99 set before step 7: "
                 "the bias corrections and rho_t from the step's own betas (b^t) or from the "
                 "product of every step's betas (running powers)",
                 _probe_scenario(adapter, hyper, [0.5, -1.25, 2.0, 0.0], grads,
                                 ((6, (replace(hyper, beta1=0.8, beta2=0.99),)),)))


def _identify_powers(adapter: Adapter, survivors: list[Convention], runs: dict[str, _Run],
                     progress: Callable[[str], None] | None) -> tuple[list[Convention], str]:
    """Where a schedule can change the betas: the survivors with their powers from the
    step's own betas (``count``) and from the running products (``running``), judged on
    one more probe; the count is kept where both reproduce it (its certified schedule),
    and where neither does, the survivors stay as they are (verification shows it)."""
    probe = _changed_betas(adapter)
    both = [replace(c, powers=powers) for c in survivors for powers in ("count", "running")]
    score, rejected, _ = _eliminate(adapter, [probe], both, runs, progress)
    kept = [c for i, c in enumerate(both) if i not in rejected]
    told = f"probe '{probe.name}' ({probe.purpose})"
    if not kept:
        best = min(score, key=lambda i: score[i])
        return survivors, (f"{told}: neither powers=count nor powers=running reproduces it "
                           f"(the closest, {both[best].spec}, by {score[best]:.3g} x its "
                           "bound); verification judges powers=count")
    counted = [c for c in kept if c.powers == "count"]
    if counted:
        fits = " (powers=running reproduces it too)" if len(counted) < len(kept) else ""
        return counted, f"{told}: powers=count{fits}"
    return kept, (f"{told}: powers=running; powers=count is rejected by "
                  f"{min(score[i] for i in rejected if both[i].powers == 'count'):.3g} x its "
                  "bound")


def _eliminate(adapter: Adapter, found: list[Probe], alive: list[Convention],
               runs: dict[str, _Run],
               progress: Callable[[str], None] | None,
               ) -> tuple[dict[int, float], dict[int, tuple[str, float, str]], list[Probe]]:
    """Judge every candidate in ``alive`` on the probes until a probe rejects it: each
    candidate's worst ratio to its bound, the probe that rejected it (by index), and the
    probes that ran. A probe runs the implementation once (kept in ``runs`` by name, for a
    later pass over other candidates); one that no live candidate's algorithm reads is
    passed over."""
    score = dict.fromkeys(range(len(alive)), 0.0)
    rejected_by: dict[int, tuple[str, float, str]] = {}
    ran = []
    # decay merged into the update is decoupled decay's exact step with a bound that holds
    # decoupled decay's: it reproduces whatever its decoupled twin (judged first) reproduces,
    # and is judged itself only once that twin is rejected
    index = {c: i for i, c in enumerate(alive)}
    twins = {i: twin for i, c in enumerate(alive) if c.weight_decay == "merged"
             for twin in [index.get(replace(c, weight_decay="decoupled"), i)] if twin < i}
    for probe in found:
        if probe.algorithms and not any(
                c.algorithm in probe.algorithms for i, c in enumerate(alive) if i not in rejected_by):
            continue  # no candidate left reads what this probe separates
        ran.append(probe)
        if probe.name not in runs:
            if progress:
                progress(f"probe: {probe.name}")
            try:
                runs[probe.name] = run(adapter, probe.scenario)
            except ImplementationError as error:
                raise UsageError(f"cannot identify the convention of {adapter.spec}: on the "
                                 f"probe '{probe.name}' the implementation raised {error}; name "
                                 "the convention instead (e.g. --verify-convention=pytorch)"
                                 ) from None
        initial, observed = runs[probe.name]
        for i, convention in enumerate(alive):
            if i in rejected_by:
                continue
            twin = twins.get(i)
            if twin is not None and twin not in rejected_by:
                score[i] = max(score[i], score[twin])  # at most its twin's ratio
                continue
            outcome = judge(adapter, probe.scenario, convention, initial, observed,
                            first_failure=True)
            worst = outcome.worst()
            ratio = worst.judgement.worst_ratio if worst else 0.0
            score[i] = max(score[i], ratio)
            if not outcome.conforms:
                where = worst.judgement.worst if worst else None
                rejected_by[i] = (probe.name, ratio, where.describe() if where else "")
    return score, rejected_by, ran


def _identify_lookahead(adapter: Adapter, inner: Adapter, k: int, alpha: float,
                        progress: Callable[[str], None] | None) -> Identification:
    """A Lookahead wrapper: the probes' few steps would cross its syncs, so the inner
    optimizer is identified alone (its own adapter); the wrapper's k and alpha are the ones a
    wrapper it builds holds, and where the slow weights start (theta_0, theta after the first
    step, or fast at the first sync) is read from a run of 2k + 2 steps, which crosses the
    syncs of every start reading (after step 1 and then every k steps, or every k steps)."""
    if progress:
        progress(f"the inner optimizer {inner.spec} alone")
    found = identify(inner, progress)
    evidence = [f"a Lookahead wrapper with k = {k} and alpha = {_text(alpha)} (as a wrapper "
                f"it builds holds them) around {inner.spec}, identified alone:",
                *found.evidence]
    if not found.consistent or found.convention is None:
        return replace(found, evidence=tuple(evidence))
    gradients = [[(0.3 - 0.05 * j) * (1 + 0.25 * (t % 5)) * (-1) ** (t // 3 + j)
                  for j in range(4)] for t in range(2 * k + 2)]
    # a second tensor without a gradient on steps 1, k and k + 1 (the first syncs of every
    # start reading) tells a count per tensor from the group's, and the group's syncs that
    # pass over it from those that pull it (where the implementation takes such steps)
    counts: tuple[LookaheadCount, ...] = ("tensor",)
    theta0: tuple[np.ndarray, ...] = (adapter.to_format(np.array([0.5, -1.25, 2.0, 0.0]))
                                      .astype(np.float64),)
    missing = adapter.capabilities.missing_grads
    if missing:
        counts = LOOKAHEAD_COUNTS
        theta0 = (*theta0, adapter.to_format(np.array([-0.75, 1.5])).astype(np.float64))
    steps = tuple(tuple(
        adapter.to_format(np.asarray(g[:size])).astype(np.float64)
        if p == 0 or t not in (0, k - 1, k) else None
        for p, size in enumerate((4, 2)[:len(theta0)])) for t, g in enumerate(gradients))
    probe = Probe("lookahead cycles", f"{2 * k + 2} steps: syncs after steps k, 2k (slow "
                  "weights from theta_0 or from fast at the first sync) or after steps 1, "
                  "k + 1, 2k + 1 (from theta after the first step)"
                  + (", a second tensor without a gradient on steps 1, k and k + 1"
                     if missing else ""),
                  Scenario((GroupSpec(Hyper(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8),
                                      theta0),), tuple((row,) for row in steps)))
    if progress:
        progress(f"probe: {probe.name}")
    try:
        initial, observed = run(adapter, probe.scenario)
    except ImplementationError as error:
        raise UsageError(f"cannot identify the convention of {adapter.spec}: on the probe "
                         f"'{probe.name}' the implementation raised {error}; name the "
                         "convention instead (e.g. --verify-convention=pytorch,lookahead_k=6)"
                         ) from None
    evidence.append(f"probe '{probe.name}' ({probe.purpose})")
    kept: list[Convention] = []
    for start, count in itertools.product(LOOKAHEAD_STARTS, counts):
        copied = ""
        # a copied sync's bound lies within a merged one's: the stricter that reproduces it
        for sync in LOOKAHEAD_SYNCS:
            candidate = replace(found.convention, lookahead_k=k, lookahead_alpha=alpha,
                                lookahead_start=start, lookahead_sync=sync,
                                lookahead_count=count)
            outcome = judge(adapter, probe.scenario, candidate, initial, observed,
                            first_failure=True)
            worst = outcome.worst()
            where = worst.judgement.worst if worst else None
            ratio = worst.judgement.worst_ratio if worst else math.inf
            rejection = f"{ratio:.3g} x its bound ({where.describe() if where else 'no value'})"
            named = f"lookahead_start={start}" + (
                f", lookahead_count={count}" if missing else "")
            if outcome.conforms:
                kept.append(candidate)
                if sync != LOOKAHEAD_SYNCS[0]:
                    evidence.append(f"lookahead_sync={sync}, not {LOOKAHEAD_SYNCS[0]} (with "
                                    f"{named}): the copied sync is rejected by {copied}")
                break
            if sync == LOOKAHEAD_SYNCS[0]:
                copied = rejection
            else:
                also = "" if copied == rejection else (
                    f" (with lookahead_sync={LOOKAHEAD_SYNCS[0]}: {copied})")
                evidence.append(f"{named}: rejected by {rejection}{also}")
    if not missing:
        evidence.append("lookahead_count: the implementation gives every tensor a gradient on "
                        "every step, where a count per tensor and the group's are one reading")
    starts = {c.lookahead_start for c in kept}
    syncs = {c.lookahead_sync for c in kept}
    count_values = {c.lookahead_count for c in kept}
    axes = {**found.axes, "lookahead_k": k, "lookahead_alpha": alpha,
            "lookahead_start": starts.pop() if len(starts) == 1 else None,
            "lookahead_sync": syncs.pop() if len(syncs) == 1 else None}
    if count_values != {"tensor"}:  # shown where it is not the default, as axes() shows it
        axes["lookahead_count"] = count_values.pop() if len(count_values) == 1 else None
    if not kept:
        evidence.append("no start of the slow weights reproduces the probe: the wrapper "
                        "syncs as none of Lookahead's readings does")
        return Identification(axes, None, None, False, dict(found.undetermined),
                              tuple(evidence), found.convention)
    undetermined = dict(found.undetermined)
    if axes["lookahead_start"] is None:
        undetermined["lookahead_start"] = (f"values {sorted(c.lookahead_start for c in kept)} "
                                           "all reproduce the probe")
    if axes["lookahead_sync"] is None:
        undetermined["lookahead_sync"] = (f"values {sorted(c.lookahead_sync for c in kept)} "
                                          "reproduce the probe with different starts")
    if "lookahead_count" in axes and axes["lookahead_count"] is None:
        undetermined["lookahead_count"] = (f"values {sorted({c.lookahead_count for c in kept})} "
                                           "all reproduce the probe")
    chosen = kept[0]
    return Identification(axes, chosen.spec, chosen, True, undetermined, tuple(evidence),
                          chosen)


def _read_axes(survivors: list[Convention], adapter: Adapter) -> tuple[dict[str, object], dict[str, str]]:
    axes: dict[str, object] = {}
    undetermined: dict[str, str] = {}
    algorithms = {c.algorithm for c in survivors}
    for axis in AXES_REPORTED:
        if axis != "algorithm" and not any(axis in ALGORITHM_AXES[a] for a in algorithms):
            continue  # an axis no surviving algorithm reads (RAdam's threshold for Adam)
        values = {getattr(c, axis) for c in survivors}
        if len(values) == 1:
            axes[axis] = values.pop()
            continue
        axes[axis] = None
        if axis == "algorithm":
            undetermined[axis] = f"{' and '.join(sorted(values))} both reproduce every probe"
        elif axis == "comparison":
            undetermined[axis] = _COMPARISON_REASON
        elif axis == "decay_on_skip":
            undetermined[axis] = "not applicable: no step is skipped or there is no decoupled decay"
        elif axis == "weight_decay" and not adapter.capabilities.weight_decay:
            undetermined[axis] = "the implementation takes no weight decay"
        else:
            undetermined[axis] = (f"values {sorted(map(_text, values))} all reproduce every probe")
    return axes, undetermined


#: axes whose values are the implementation's arguments, not a preset's reading
_NOT_PRESET_CHOICES = ("scalars", "lookahead_k", "lookahead_alpha", "clip_norm", "eps_root",
                       "powers")


def _matching_preset(axes: dict[str, object]) -> str | None:
    """The preset agreeing with every determined axis (and unique), else None; the scalars'
    format is not a preset's choice (every preset forms them in binary64), and a Lookahead
    preset matches only an implementation identified with Lookahead (built in: its start is
    among the axes; its k and alpha, constructor arguments, are given beside the preset, as
    is LAMB's gradient clipping)."""
    lookahead = bool(axes.get("lookahead_k"))
    matches = [name for name, preset in PRESETS.items()
               if preset.lookahead == lookahead
               and all(value is None or getattr(preset, axis) == value
                       for axis, value in axes.items() if axis not in _NOT_PRESET_CHOICES)]
    return matches[0] if len(matches) == 1 else None


def _eliminations(alive: list[Convention], rejected_by: dict[int, tuple[str, float, str]],
                  axes: dict[str, object], chosen: Convention) -> list[str]:
    """For each determined axis, why each other value fails: the convention that differs
    from the identified one in that axis alone, and the probe that rejects it."""
    lines = []
    base = replace(chosen, name=None)
    index = {c: i for i, c in enumerate(alive)}
    for axis, value in axes.items():
        if value is None:
            continue
        for other in sorted({getattr(c, axis) for c in alive} - {value}, key=_text):
            if axis == "algorithm":  # the other algorithm's closest candidate
                near = [i for i, c in enumerate(alive) if c.algorithm == other and i in rejected_by]
                neighbour = min(near, key=lambda i: rejected_by[i][1]) if near else None
            else:
                try:
                    neighbour = index.get(replace(base, **{axis: other}))
                except ConventionError:  # no such reading (eps=raw beside amsgrad=v_hat)
                    neighbour = None
            if neighbour is None or neighbour not in rejected_by:
                continue
            probe, ratio, where = rejected_by[neighbour]
            lines.append(f"{axis}={_text(value)}, not {_text(other)}: probe '{probe}' rejects "
                         f"{axis}={_text(other)} by {ratio:.3g} x its bound ({where})")
    return lines


def _inconsistency(alive: list[Convention], rejected_by: dict[int, tuple[str, float, str]]) -> list[str]:
    best = min(rejected_by.items(), key=lambda item: item[1][1])
    probe, ratio, where = best[1]
    return [f"no convention reproduces every probe; the closest, {alive[best[0]].spec}, fails probe "
            f"'{probe}' by {ratio:.3g} x its bound: {where}"]
