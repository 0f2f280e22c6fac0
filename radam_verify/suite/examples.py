"""The same seed draws the same examples, whatever code is loaded beside the suite.

Hypothesis mixes into its draws, now and then, constants it collects from the source of
every *local* module imported so far (``hypothesis.internal.conjecture.providers``: its
"local constants"; radam-verify's own modules are local in a checkout, and so is an
implementation under test that lives beside the user's tests). That makes a verdict's
examples depend on things that are not its inputs: which modules happen to be imported
when a property starts (a property run after another one sees more), and any literal
edited anywhere in those modules. A verdict must be reproducible from its seed alone, and
a defect must be found by what the strategies are designed to reach, not by a constant
that happens to sit in the source; so while a property runs, the pool of local constants
is empty. Hypothesis' own global constants (0, 1, the edges of each type, NaN, ...) stay.

The same goes for the order in which the shrinker tries a strategy's parts: one of its passes
(``pass_to_descendant``) takes the labels of the shrink target's spans sorted by their value,
and a label is a hash. A ``@st.composite`` function's label hashes the ``repr`` of its
constants, which holds the memory address of every nested code object (a comprehension, a
lambda), and a ``sampled_from`` of strings hashes them with the process' string hash seed;
so from one process to the next the shrinker tried the parts in another order and ended at
another minimal counterexample (``make demo`` rewrote a report on every run). While a property
runs, that pass takes the labels in the order of their first span in the shrink target.

Hypothesis offers no setting for either; :func:`seed_only` replaces the private function that
collects the constants and the shrinker's label order for the duration of a property and
restores both after. ``tests/test_examples.py`` fails if either disappears from a new
Hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis.internal.conjecture import providers, shrinker
from hypothesis.internal.constants_ast import Constants

#: the private collector replaced while a property runs (a test checks it exists)
COLLECTOR = "_get_local_constants"
#: the shrinker's labels in the order one of its passes tries them, replaced while a property
#: runs (a test checks it exists)
LABEL_ORDER = "distinct_labels"


def _no_local_constants() -> Any:
    return Constants()


def _labels_in_span_order(self: Any) -> list[int]:
    """The shrink target's distinct span labels, in the order of each one's first span: the
    same in every process, where an order by value follows hash seeds and memory addresses."""
    return list(self.spans_by_label)


@contextmanager
def seed_only() -> Iterator[None]:
    """Within the block, Hypothesis draws from its strategies and global constants only, and
    shrinks a failure in the same order in every process."""
    collect: Callable[[], Any] | None = getattr(providers, COLLECTOR, None)
    order = shrinker.Shrinker.__dict__.get(LABEL_ORDER)
    if order is not None:
        setattr(shrinker.Shrinker, LABEL_ORDER, property(_labels_in_span_order))
    if collect is not None:
        # the cache of permitted constants holds the local ones collected so far: empty it
        # on the way in and on the way out, so neither side sees the other's pool
        setattr(providers, COLLECTOR, _no_local_constants)
        providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        if collect is not None:
            setattr(providers, COLLECTOR, collect)
            providers.CONSTANTS_CACHE.cache.clear()
        if order is not None:
            setattr(shrinker.Shrinker, LABEL_ORDER, order)
