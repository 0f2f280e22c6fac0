"""The fastai part of a stand-alone reproduction script (see :mod:`radam_verify.adapters.script`).

The script builds the optimizer as the adapter does: ``factory(param_lists, lr=, mom=,
sqr_mom=, eps=, wd=, **KWARGS)`` with the first group's values, then each group's own with
``Optimizer.set_hyper`` (and with it the hyperparameters a schedule sets between steps);
gradients as ``param.grad``; state read from and written to
``optimizer.state[param]`` under the keys the adapter found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from radam_verify.adapters.script import Driver, literal
from radam_verify.adapters.torch_script import DISTURB, STATE_METHODS

if TYPE_CHECKING:
    from radam_verify.adapters.base import GroupSpec
    from radam_verify.adapters.fastai_adapter import FastaiAdapter
    from radam_verify.hyper import Hyper
    from radam_verify.suite.scenario import Scenario

RUN_CLASS = DISTURB + '''
def tensor(values):
    """A tensor of ``values`` in the parameters' dtype."""
    return torch.tensor(np.asarray(values, dtype=np.float64), dtype=REAL, device=DEVICE)


def values(data, size):
    """The first ``size`` values of a tensor, as float64 (a copy)."""
    return data.detach().to(device="cpu", dtype=torch.float64, copy=True).numpy().reshape(-1)[:size]


class Run:
    """The fastai optimizer over GROUPS and its parameter tensors."""

    def __init__(self, factory, groups=None):
        groups = GROUPS if groups is None else groups
        self.factory = factory
        self.groups = [dict(g) for g in groups]
        self.tensors = [[torch.nn.Parameter(tensor(p)) for p in g["params"]] for g in groups]
        self.sizes = [[len(p) for p in g["params"]] for g in groups]
        self.optimizer = factory(self.tensors, **{k: groups[0][k] for k in HYPER_KEYS}, **KWARGS)
        for key in HYPER_KEYS:  # each group's own values, as fastai's schedulers set them
            self.optimizer.set_hyper(key, [g[key] for g in groups])

    def inject(self, start):
        for tensors, states in zip(self.tensors, start):
            for p, s in zip(tensors, states):
                with torch.no_grad():
                    p.copy_(tensor(s["theta"]))
                self.optimizer.state[p] = {M_KEY: tensor(s["m"]), V_KEY: tensor(s["v"]),
                                           STEP_KEY: int(s["t"])}

    def add_group(self, group):
        raise RuntimeError("a fastai Optimizer has no add_param_group")

    def retune(self, hypers):
        """Set the first groups' hyperparameters with set_hyper, as fastai's schedulers do."""
        for key in HYPER_KEYS:
            held = [h[key] for h in self.optimizer.hypers]
            given = [entry[key] for entry in hypers]
            self.optimizer.set_hyper(key, given + held[len(given):])

    def step(self, grads):
        for tensors, group in zip(self.tensors, grads):
            for p, g in zip(tensors, group):
                p.grad = None if g is None else tensor(g)
        self.optimizer.step()

    def held(self, param):
        return self.optimizer.state.get(param, {})

''' + STATE_METHODS + '''    def change_hypers(self):
        disturb(self.optimizer.hypers)

    def hypers(self):
        return [{k: (v.item() if hasattr(v, "item") else v) for k, v in dict(h).items()}
                for h in self.optimizer.hypers]
'''


def driver(adapter: FastaiAdapter, scenario: Scenario) -> Driver:
    """The fastai driver for ``scenario`` on ``adapter``'s configuration."""
    from radam_verify.adapters.fastai_adapter import NAMES
    from radam_verify.suite.scenario import scenario_json

    def named(hyper: Hyper) -> dict[str, object]:
        return {NAMES[k]: getattr(hyper, k) for k in NAMES if NAMES[k] in adapter.keys}

    def entry(group: GroupSpec) -> dict[str, object]:
        found = named(group.hyper)
        found["params"] = [[float(x) for x in np.ravel(p)] for p in group.params]
        return found

    text = "".join([
        literal("DEVICE", adapter.device),
        f"# the dtype of the parameters\nREAL = torch.{adapter.fmt.name}\n",
        literal("KWARGS", dict(adapter.kwargs), "the factory's keywords"),
        literal("HYPER_KEYS", list(adapter.keys), "the hyperparameters set per group"),
        literal("M_KEY", adapter.m_key, "where the optimizer keeps m, v and its step count"),
        literal("MAX_KEY", None, "fastai's RAdam keeps no AMSGrad maximum"),
        literal("SLOW_KEY", None, "nor Lookahead's slow weights"),
        literal("V_KEY", adapter.v_key),
        literal("STEP_KEY", adapter.step_key),
        literal("GROUPS", [entry(g) for g in scenario.groups],
                "the parameter groups: fastai's hyperparameter names and the initial values"),
        literal("ADDED", [], "fastai optimizers take no groups after construction"),
        literal("START", scenario_json(scenario).get("start"),
                "the state injected before the first step (None: a fresh optimizer)"),
    ])
    retuned = tuple((k, tuple(named(h) for h in hypers)) for k, hypers in scenario.retuned)
    return Driver("torch, fastai and numpy", "import torch\n", text, RUN_CLASS, retuned)
