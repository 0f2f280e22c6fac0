"""What a torch optimizer calls its hyperparameters, in its constructor and in its groups.

Libraries disagree: ``torch.optim.RAdam(lr=, betas=(b1, b2), eps=)`` keeps the same names in
each parameter group; ``optimi.RAdam(lr, betas=...)`` requires ``lr`` and keeps
``beta1``/``beta2`` in its groups; others take ``beta1``/``beta2``, ``b1``/``b2`` or
``beta_1``/``beta_2``, and ``epsilon``. :func:`constructor_names` reads the constructor's
signature; :meth:`HyperNames.with_group_keys` then reads the keys the optimizer keeps in
its ``defaults``, which are the keys a user of that library sets per group.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from radam_verify.hyper import Hyper

LR_NAMES = ("lr", "learning_rate")
BETA_NAMES: tuple[tuple[str, ...], ...] = (("betas",), ("beta1", "beta2"), ("b1", "b2"),
                                           ("beta_1", "beta_2"))
EPS_NAMES = ("eps", "epsilon")


def _first(found: set[str], options: Sequence[str], default: str) -> str:
    return next((name for name in options if name in found), default)


def _pair(found: set[str], default: tuple[str, ...] = ("betas",)) -> tuple[str, ...]:
    return next((names for names in BETA_NAMES if set(names) <= found), default)


@dataclass(frozen=True)
class HyperNames:
    """The names of lr, the betas and eps (and whether weight decay is taken), in the
    constructor and in the parameter groups; ``required``: constructor arguments without a
    default, which the constructor is given too (from the first group)."""

    lr: str = "lr"
    betas: tuple[str, ...] = ("betas",)  # ("betas",) for a pair, else two names
    eps: str = "eps"
    weight_decay: bool = True
    group_lr: str = "lr"
    group_betas: tuple[str, ...] = ("betas",)
    group_eps: str = "eps"
    required: tuple[str, ...] = ()

    @property
    def drawn(self) -> list[str]:
        """The constructor's names of what the suite draws (never in --verify-kwargs)."""
        return [self.lr, *self.betas, self.eps, *(["weight_decay"] if self.weight_decay else [])]

    def group(self, hyper: Hyper) -> dict[str, object]:
        """A group's hyperparameters under the keys the optimizer keeps in its groups."""
        return _entries(hyper, self.group_lr, self.group_betas, self.group_eps, self.weight_decay)

    def constructor(self, hyper: Hyper) -> dict[str, object]:
        """The required constructor arguments, from ``hyper``."""
        given = _entries(hyper, self.lr, self.betas, self.eps, self.weight_decay)
        return {name: value for name, value in given.items() if name in self.required}

    def with_group_keys(self, defaults: Mapping[str, Any]) -> HyperNames:
        """The group keys as the constructed optimizer's ``defaults`` name them."""
        keys = set(defaults)
        return replace(self, group_lr=_first(keys, LR_NAMES, self.lr),
                       group_betas=_pair(keys, self.betas), group_eps=_first(keys, EPS_NAMES, self.eps))

    def describe(self) -> str:
        """Which keys are set per group, for the verdict."""
        return ", ".join([self.group_lr, *self.group_betas, self.group_eps,
                          *(["weight_decay"] if self.weight_decay else [])])


def _entries(hyper: Hyper, lr: str, betas: tuple[str, ...], eps: str, weight_decay: bool
             ) -> dict[str, object]:
    out: dict[str, object] = {lr: hyper.lr}
    if betas == ("betas",):
        out["betas"] = (hyper.beta1, hyper.beta2)
    else:
        out[betas[0]], out[betas[1]] = hyper.beta1, hyper.beta2
    out[eps] = hyper.eps
    if weight_decay:
        out["weight_decay"] = hyper.weight_decay
    return out


def constructor_names(cls: type) -> tuple[HyperNames, set[str]]:
    """The names ``cls``'s constructor takes, and every keyword it accepts."""
    try:
        parameters = dict(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return HyperNames(), {"weight_decay"}
    accepted = {name for name, p in parameters.items()
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    required = tuple(name for name, p in parameters.items()
                     if name in accepted and p.default is p.empty and name != "params")
    lr = _first(accepted, LR_NAMES, "lr")
    betas = _pair(accepted)
    eps = _first(accepted, EPS_NAMES, "eps")
    names = HyperNames(lr, betas, eps, "weight_decay" in accepted, lr, betas, eps, required)
    return names, accepted
