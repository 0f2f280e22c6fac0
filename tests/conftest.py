"""Hypothesis profiles and shared fixtures for radam-verify's own tests."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle

import ml_dtypes  # noqa: F401  (see below: imported once, before any pytester run)
import pytest
from hypothesis import HealthCheck, settings

from radam_verify.derivation import Claim, all_claims

pytest_plugins = ["pytester"]

# In-process pytester runs restore sys.modules afterwards; a C extension such as torch cannot be
# imported twice in one process, so it is imported here, once, before any of them. So are
# the modules that register with a C extension on import: torch._dynamo (its inductor test
# operators' TORCH_LIBRARY, imported by every torch optimizer's constructor and by Keras'
# torch backend) and ml_dtypes (its numpy dtypes, imported above); imported again, each raises.
with contextlib.suppress(ImportError):  # torch is an optional extra
    import torch._dynamo  # noqa: F401

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
def claims(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Claim]:
    """Every claim, checked once per test session: under xdist by the first worker that
    asks, the others reading its pickled result (the pattern pytest-xdist documents for
    session fixtures), so the SymPy derivations run once, not once per worker."""
    if worker_id == "master":
        return {item.id: item for item in all_claims()}
    path = tmp_path_factory.getbasetemp().parent / "claims.pickle"
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not path.is_file():
            path.write_bytes(pickle.dumps({item.id: item for item in all_claims()}))
        loaded: dict[str, Claim] = pickle.loads(path.read_bytes())
    return loaded


_CATALOGUE_RESULTS: list[dict[str, object]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the catalogue verdicts (on the controller too, under xdist)."""
    if report.when == "call":
        _CATALOGUE_RESULTS.extend(value for key, value in report.user_properties
                                  if key == "catalogue_defect_rejected")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The mutation score, counting a defect only when it was rejected for its reason."""
    if not _CATALOGUE_RESULTS:
        return
    rejected = [r for r in _CATALOGUE_RESULTS if r["rejected"]]
    total = len(_CATALOGUE_RESULTS)
    terminalreporter.write_sep("-", "defect catalogue (a kill counts only for its reason)")
    for r in sorted(_CATALOGUE_RESULTS, key=lambda r: str(r["defect"])):
        if r["rejected"]:
            line = f"rejected by {r['by']}"
        elif r["errors"]:
            line = f"NOT COUNTED: the suite itself raised in {r['errors']} (expected {r['expected']})"
        elif r["failed"]:
            line = f"NOT COUNTED: failed {r['failed']}, not {r['expected']}"
        else:
            line = "ACCEPTED"
        terminalreporter.write_line(f"{r['defect']}: {line}")
    terminalreporter.write_line(f"mutation score: {len(rejected)}/{total} defects rejected for "
                                f"their reason ({100 * len(rejected) / total:.0f}%)")
