"""The SymPy derivation: every claim verified, and claims that fail when a formula changes."""

from __future__ import annotations

from pathlib import Path

import mpmath
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from radam_verify.derivation import Claim, adam, formulas, sma, variance
from radam_verify.derivation.document import render_markdown

ISSUE_CLAIMS = {
    "sma-length", "rho-inf", "rho-one", "rho-increasing", "rho-below-t", "rho-series",
    "rho-cancellation-free", "psi-moments", "psi-variance-ratio", "rectifier",
    "rectification-possible", "first-rectified-step", "late-regime", "false-statements",
    # RAdam's family (a chapter per algorithm)
    "bias-correction-unbiased", "adam-first-step-sign", "adam-scale-invariance",
    "radam-tends-to-adam", "amsgrad-paper-step-non-increasing",
    "amsgrad-bias-corrected-step-can-grow", "lamb-step-norm", "lookahead-closed-form",
    # readings implementations have: a constant inside the root, one moment bias-corrected
    "adam-eps-root-first-step", "adam-one-bias-correction-first-step",
    # bias corrections from running powers (PaddlePaddle's accumulators)
    "running-rho",
}


def test_the_derivation_has_every_claim_the_issue_lists(claims: dict[str, Claim]) -> None:
    assert set(claims) >= ISSUE_CLAIMS


@pytest.mark.parametrize("claim_id", sorted(ISSUE_CLAIMS))
def test_claim_is_verified_step_by_step(claims: dict[str, Claim], claim_id: str) -> None:
    item = claims[claim_id]
    failed = [step.description for step in item.steps if not step.verified]
    assert item.steps, f"{claim_id} has no steps"
    assert not failed, f"{claim_id}: unverified steps {failed}"


def test_claims_come_in_chapters_one_per_algorithm(claims: dict[str, Claim]) -> None:
    order = [item.algorithm for item in claims.values()]
    chapters = list(dict.fromkeys(order))
    assert chapters == ["RAdam", "Adam", "AMSGrad", "LAMB", "Lookahead"]
    assert order == sorted(order, key=chapters.index)  # each chapter's claims together


def test_every_claim_names_how_it_was_checked(claims: dict[str, Claim]) -> None:
    for item in claims.values():
        assert item.method
        data = item.as_json()
        assert {"id", "statement", "latex", "verified", "method"} <= set(data)


def test_derivation_document_is_generated_from_the_claims(claims: dict[str, Claim]) -> None:
    document = Path(__file__).parent.parent / "derivations" / "radam.md"
    assert document.read_text() == render_markdown(list(claims.values())), (
        "derivations/radam.md is out of date: run `make derivations`"
    )


def _wrong_rho_t(step: sp.Expr, b2: sp.Expr) -> sp.Expr:
    return formulas.rho_inf(b2) - 3 * step * b2**step / (1 - b2**step)


def _wrong_rho_inf(b2: sp.Expr) -> sp.Expr:
    return 2 / (1 - b2)


def _wrong_variance(rho: sp.Expr, sigma: sp.Expr) -> sp.Expr:
    return rho / (2 * (rho - 2) * (rho - 3) * sigma**2)


def _wrong_r_squared(rho: sp.Expr, rho_inf: sp.Expr) -> sp.Expr:
    return (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho**2)


@pytest.mark.parametrize(
    ("formula", "wrong", "builders"),
    [
        ("rho_t", _wrong_rho_t, [sma.claim_sma_length, sma.claim_rho_one, sma.claim_rho_series,
                                 sma.claim_rho_cancellation_free, sma.claim_rho_increasing]),
        ("rho_inf", _wrong_rho_inf, [sma.claim_rho_inf, sma.claim_rectification_possible]),
        ("variance_psi_first_order", _wrong_variance,
         [variance.claim_moments, variance.claim_rectifier]),
        ("r_t_squared", _wrong_r_squared, [variance.claim_rectifier,
                                           adam.claim_radam_tends_to_adam]),
        ("rho_t", _wrong_rho_t, [adam.claim_radam_tends_to_adam]),
    ],
)
def test_a_changed_formula_makes_its_claims_fail(
    monkeypatch: pytest.MonkeyPatch, formula: str, wrong: object, builders: list[object]
) -> None:
    monkeypatch.setattr(formulas, formula, wrong)
    for build in builders:
        item = build()  # type: ignore[operator]
        assert not item.verified, f"{item.id} still verifies with a wrong {formula}"


@given(
    beta2=st.floats(0.05, 0.9999),
    t=st.integers(1, 60),
)
def test_rho_t_matches_the_centre_of_mass_definition(beta2: float, t: int) -> None:
    """Independent of the closed form: sum the EMA weights' centre of mass with mpmath."""
    ctx = mpmath.MPContext()
    ctx.prec = 200
    b = ctx.mpf(beta2)
    weights = [(1 - b) * b ** (t - i) / (1 - b**t) for i in range(1, t + 1)]
    centre = ctx.fsum(w * i for w, i in zip(weights, range(1, t + 1), strict=True))
    f = 2 * (t + ctx.mpf(1) / 2 - centre)  # the SMA of length f has centre t + 1/2 - f/2
    closed = sp.lambdify(
        (formulas.t, formulas.beta2), formulas.rho_t(formulas.t, formulas.beta2), modules=[ctx]
    )(t, b)
    assert abs(f - closed) <= ctx.mpf(2) ** -150 * max(1, abs(f))


def test_the_eps_root_claim_fails_where_the_constant_sits_beside_the_root() -> None:
    """The identity behind ``adam-eps-root-first-step`` is checked, not assumed: the step
    with eps_root added beside the root, lr |g| / (|g| + sqrt(eps_root)), does not satisfy
    it."""
    from radam_verify.derivation.claims import identity

    rho, x, lr = sp.symbols("eps_root x lr", positive=True)
    beside = lr * x / (x + sp.sqrt(rho))
    assert not identity("beside", lr**2 - beside**2, lr**2 * rho / (x**2 + rho)).verified
    inside = lr * x / sp.sqrt(x**2 + rho)
    assert identity("inside", lr**2 - inside**2, lr**2 * rho / (x**2 + rho)).verified


def test_running_rho_fails_for_a_recursion_that_drops_the_new_power() -> None:
    """The running-rho claim checks the recursion it states: without the + P_t term the
    induction step is not an identity."""
    from radam_verify.derivation.claims import identity
    from radam_verify.derivation.powers import claim_running_rho

    b, p = sp.symbols("b P", positive=True)
    t = sp.Symbol("t", integer=True, positive=True)
    before = (t - 1) * p / (1 - p)
    wrong = before * (b - b * p) / (1 - b * p)
    assert not identity("no + P_t", wrong, t * b * p / (1 - b * p)).verified
    assert all(step.verified for step in claim_running_rho().steps)
