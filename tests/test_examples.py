"""A verdict's examples come from its seed alone: the constants Hypothesis collects from local
modules (radam_verify's own source, an implementation beside the user's tests) do not reach
the suite's draws, so importing a module or editing a literal changes no example."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers

from radam_verify.suite.examples import COLLECTOR, seed_only

#: integers a local module holds, each of which Hypothesis would otherwise draw now and then
CONSTANTS = [1_000_003 + 7919 * k for k in range(64)]


def _draws() -> list[int]:
    drawn: list[int] = []

    @seed(12345)
    @settings(database=None, max_examples=400, derandomize=False)
    @given(st.integers(0, 2**32 - 1))
    def collect(value: int) -> None:
        drawn.append(value)

    collect()
    return drawn


def _import_local_module(tmp_path: Path, name: str) -> None:
    source = "\n".join(f"C{k} = {value}" for k, value in enumerate(CONSTANTS))
    (tmp_path / f"{name}.py").write_text(source + "\n")
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_hypothesis_still_has_the_collector_the_suite_replaces() -> None:
    assert callable(getattr(providers, COLLECTOR, None)), (
        f"hypothesis.internal.conjecture.providers.{COLLECTOR} is gone: see "
        "radam_verify/suite/examples.py")


def test_a_local_module_imported_between_two_runs_changes_no_example(tmp_path: Path) -> None:
    with seed_only():
        before = _draws()
    _import_local_module(tmp_path, "radam_examples_constants_a")
    with seed_only():
        after = _draws()
    assert before == after
    assert not set(CONSTANTS) & set(after)


def test_without_it_hypothesis_draws_the_local_modules_constants(tmp_path: Path) -> None:
    """The control: the mechanism the suite turns off is there, and changes the examples."""
    _import_local_module(tmp_path, "radam_examples_constants_b")
    assert set(CONSTANTS) & set(_draws())


def test_the_collector_is_restored_after_the_block() -> None:
    collect = getattr(providers, COLLECTOR)
    replaced = []

    def failing_property() -> None:
        with seed_only():
            replaced.append(getattr(providers, COLLECTOR))
            raise RuntimeError("a property that fails")

    with pytest.raises(RuntimeError):
        failing_property()
    assert replaced
    assert replaced[0] is not collect
    assert getattr(providers, COLLECTOR) is collect
