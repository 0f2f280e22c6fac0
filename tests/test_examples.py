"""A verdict's examples come from its seed alone: the constants Hypothesis collects from local
modules (radam_verify's own source, an implementation beside the user's tests) do not reach
the suite's draws, so importing a module or editing a literal changes no example; and a
failure shrinks to the same counterexample in every process, whatever the memory addresses
and the string hash seed (the shrinker's label order)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers, shrinker

from radam_verify.suite.examples import COLLECTOR, LABEL_ORDER, seed_only

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


def test_hypothesis_still_has_the_label_order_the_suite_replaces() -> None:
    assert isinstance(shrinker.Shrinker.__dict__.get(LABEL_ORDER), property), (
        f"hypothesis.internal.conjecture.shrinker.Shrinker.{LABEL_ORDER} is gone: see "
        "radam_verify/suite/examples.py")


def _composite_compiled_anew() -> st.SearchStrategy[list[int]]:
    """The same composite strategy's source compiled once more: an equal function whose
    nested code object (the comprehension) lies at another address."""
    namespace: dict[str, object] = {"st": st}
    exec(compile("@st.composite\n"
                 "def doubled(draw):\n"
                 "    return [2 * x for x in draw(st.lists(st.integers()))]\n",
                 "<composite>", "exec"), namespace)
    factory = namespace["doubled"]
    assert callable(factory)
    strategy: st.SearchStrategy[list[int]] = factory()
    return strategy


def test_without_it_equal_strategies_get_labels_from_memory_addresses() -> None:
    """The control: a composite's label (which the shrinker orders its parts by) follows
    where its code lies in memory, so it differs between processes."""
    assert _composite_compiled_anew().label != _composite_compiled_anew().label


class _Target:
    """A shrink target whose spans carry labels in an order other than their values'."""

    def __init__(self) -> None:
        self.spans_by_label = {9_000: ["span 0"], 100: ["span 1"], 5_000: ["span 2"]}
        self._Shrinker__derived_values: dict[str, object] = {}  # the shrinker's cache


def test_the_shrinker_takes_labels_in_the_order_of_their_first_span() -> None:
    order = shrinker.Shrinker.__dict__[LABEL_ORDER]
    assert order.fget(_Target()) == [100, 5_000, 9_000]  # by value (as str): the control
    with seed_only():
        replaced = shrinker.Shrinker.__dict__[LABEL_ORDER]
        assert replaced.fget(_Target()) == [9_000, 100, 5_000]
    assert shrinker.Shrinker.__dict__[LABEL_ORDER] is order


def _shrunk_in_a_process(tmp_path: Path, hash_seed: str) -> subprocess.Popen[str]:
    """torch.optim.RAdam's foreach path on a group of mixed dtypes (the quick profile), run
    in a process of its own with string hash seed ``hash_seed``; its verdict is written to
    tmp_path/hash_seed/verdict.json."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "--verify-impl=torch.optim:RAdam",
         "--verify-profile=quick", "--verify-seed=0", "-p", "no:cacheprovider", "-q",
         "--assert=plain", f"--rootdir={tmp_path}", "-c", os.devnull,
         "-k", "another_dtype and foreach",
         f"--verify-report={tmp_path / hash_seed / 'verdict.json'}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_failure_shrinks_to_the_same_counterexample_in_every_process(tmp_path: Path) -> None:
    """The property ``make demo``'s report once showed a different counterexample for on every
    run: two processes with different string hash seeds (and memory layouts) shrink its
    failure alike, example for example."""
    pytest.importorskip("torch")
    runs = {h: _shrunk_in_a_process(tmp_path, h) for h in ("1", "2")}
    failures = []
    for h, run in runs.items():
        out, _ = run.communicate(timeout=600)
        verdict = json.loads((tmp_path / h / "verdict.json").read_text())
        [prop] = [p for p in verdict["properties"] if p["outcome"] == "failed"]
        assert "foreach" in prop["failure"]["property"], out
        failures.append(prop["failure"])
    assert failures[0] == failures[1]
