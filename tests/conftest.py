"""Hypothesis profiles and shared fixtures for radam-verify's own tests."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from radam_verify.derivation import Claim, all_claims

settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(scope="session")
def claims() -> dict[str, Claim]:
    """Every claim, checked once per test session."""
    return {item.id: item for item in all_claims()}
