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

Hypothesis offers no setting for this; :func:`seed_only` replaces the one private
function that collects them for the duration of a property and restores it after.
``tests/test_examples.py`` fails if that function disappears from a new Hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants

#: the private collector replaced while a property runs (a test checks it exists)
COLLECTOR = "_get_local_constants"


def _no_local_constants() -> Any:
    return Constants()


@contextmanager
def seed_only() -> Iterator[None]:
    """Within the block, Hypothesis draws from its strategies and global constants only."""
    collect: Callable[[], Any] | None = getattr(providers, COLLECTOR, None)
    if collect is None:  # pragma: no cover - a Hypothesis without local constants
        yield
        return
    # the cache of permitted constants holds the local ones collected so far: empty it on
    # the way in and on the way out, so neither side sees the other's pool
    setattr(providers, COLLECTOR, _no_local_constants)
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        setattr(providers, COLLECTOR, collect)
        providers.CONSTANTS_CACHE.cache.clear()
