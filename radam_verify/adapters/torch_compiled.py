"""A torch optimizer's step compiled by ``torch.compile``, as torch's compiled-optimizer
recipe writes it (``torch.compile(fn)`` around ``optimizer.step()``).

Dynamo guards the code it compiles on the optimizer object itself, so every optimizer the
suite builds compiles afresh. A counterexample must follow from its example alone, not from
the examples run before it in the process or on the machine (its repro script and
Hypothesis' replay of it could not show it otherwise), and torch 2.13 keeps what it
compiled in caches, in the process and on disk, whose entries change later compilations:
a float hyperparameter that changed between compilations (a group's beta2 set anew) is
compiled as a dynamic input, and inductor's graph cache hands the code compiled for one
value of it to a compilation for another, which keeps 1 - beta2 of the first value
(``reports/repro/torch_compile_stale_beta2.py``). So whenever an optimizer is stepped for
the first time, dynamo's caches are reset and inductor's caches start empty in a new
directory (``torch._inductor.utils.fresh_cache``, as torch's own tests do): each optimizer
compiles as the first one in a fresh process on a fresh machine (seconds per compilation),
with torch's defaults otherwise. Past ``recompile_limit`` (8 compilations of one function)
dynamo would run the step eagerly without a word: the limit is raised to
:data:`RECOMPILE_LIMIT` and reaching it raises (``fail_on_recompile_limit_hit``), so a
verdict never judges the eager step as the compiled one.
"""

from __future__ import annotations

import weakref
from contextlib import ExitStack
from typing import Any

#: compilations of one function before dynamo would fall back (raised from dynamo's 8)
RECOMPILE_LIMIT = 256


def _step(optimizer: Any, closure: Any) -> Any:
    return optimizer.step() if closure is None else optimizer.step(closure)


class CompiledStep:
    """``step(optimizer, closure)``: one compiled function for every optimizer it steps."""

    def __init__(self) -> None:
        import torch
        import torch._dynamo.config as config

        config.recompile_limit = RECOMPILE_LIMIT
        config.accumulated_recompile_limit = max(config.accumulated_recompile_limit,
                                                 RECOMPILE_LIMIT)
        config.fail_on_recompile_limit_hit = True
        self._compiled = torch.compile(_step)
        self._seen: list[weakref.ref[Any]] = []
        #: the fresh inductor cache the current optimizers compile into
        self._cache = ExitStack()

    def __call__(self, optimizer: Any, closure: Any = None) -> Any:
        import torch

        self._seen = [ref for ref in self._seen if ref() is not None]
        if not any(ref() is optimizer for ref in self._seen):  # a new optimizer
            from torch._inductor.utils import fresh_cache

            self._cache.close()  # (deletes the previous cache directory)
            torch._dynamo.reset()
            self._cache.enter_context(fresh_cache())
            self._seen.append(weakref.ref(optimizer))
        return self._compiled(optimizer, closure)

    @staticmethod
    def compilations() -> int:
        """Graphs dynamo has compiled in this process (to show a step was compiled)."""
        from torch._dynamo.utils import counters

        return int(counters["stats"]["unique_graphs"])
