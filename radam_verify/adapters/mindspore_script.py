"""The MindSpore part of a stand-alone reproduction script (see
:mod:`radam_verify.adapters.script`).

The script builds the optimizer as the adapter does, ``cls([{"params": [...], "lr": ...,
"betas": (...), "eps": ..., "weight_decay": ...}, ...], **KWARGS)`` over MindSpore
Parameters, calls it with the tuple of every gradient, reads ``exp_avg.<name>``,
``exp_avg_sq.<name>`` and ``step_t``, and saves with ``mindspore.save_checkpoint``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from radam_verify.adapters.script import Driver, literal

if TYPE_CHECKING:
    from radam_verify.adapters.base import GroupSpec
    from radam_verify.adapters.mindspore_adapter import MindSporeAdapter
    from radam_verify.suite.scenario import Scenario

IMPORTS = '''import os
import tempfile

os.environ.setdefault("GLOG_v", "3")
# MindSpore writes the graph of a failed compilation there (else into ./rank_0)
os.environ.setdefault("MS_OM_PATH", tempfile.mkdtemp())

import mindspore  # noqa: E402
'''

RUN_CLASS = '''
mindspore.set_device("CPU")


def tensor(values):
    return mindspore.Tensor(np.asarray(values, dtype=np.float64).astype(DTYPE),
                            getattr(mindspore, DTYPE))


def flat(values):
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


class Run:
    """The MindSpore optimizer over GROUPS and its Parameters."""

    def __init__(self, cls, groups=None):
        self.groups = GROUPS if groups is None else groups
        self.params = [[mindspore.Parameter(tensor(p), name=f"g{k}p{i}")
                        for i, p in enumerate(g["params"])] for k, g in enumerate(self.groups)]
        entries = [{**{k: v for k, v in g.items() if k != "params"}, "params": ps}
                   for g, ps in zip(self.groups, self.params)]
        self.optimizer = cls(entries, **KWARGS)
        self.sizes = [[len(p) for p in g["params"]] for g in self.groups]
        self.last = []

    def held(self, prefix, param):
        return next(p for name, p in self.optimizer.parameters_and_names()
                    if name == f"{prefix}.{param.name}")

    def add_group(self, group):
        raise RuntimeError("MindSpore's optimizers take their groups at construction")

    def inject(self, start):
        self.optimizer.step_t.set_data(mindspore.Tensor(int(start[0][0]["t"]), mindspore.int32))
        for params, states in zip(self.params, start):
            for p, s in zip(params, states):
                p.set_data(tensor(s["theta"]))
                self.held("exp_avg", p).set_data(tensor(s["m"]))
                self.held("exp_avg_sq", p).set_data(tensor(s["v"]))

    def step(self, grads):
        self.last = [[tensor(g) for g in group] for group in grads]
        self.optimizer(tuple(g for group in self.last for g in group))

    def read(self, g, p, quantity):
        param = self.params[g][p]
        if quantity == "theta":
            return flat(param.asnumpy())
        if quantity in ("v_max", "slow"):  # no AMSGrad maximum, no Lookahead in its RAdam
            return None
        return flat(self.held("exp_avg" if quantity == "m" else "exp_avg_sq", param).asnumpy())

    def copy(self, cls):
        groups = [{**group, "params": [flat(p.asnumpy()).tolist() for p in params]}
                  for group, params in zip(self.groups, self.params)]
        return Run(cls, groups)

    def save(self):
        path = os.path.join(tempfile.mkdtemp(), "optimizer.ckpt")
        mindspore.save_checkpoint(self.optimizer, path)
        return path

    def load(self, saved):
        mindspore.load_param_into_net(self.optimizer, mindspore.load_checkpoint(saved),
                                      strict_load=True)

    def rounded(self, given):
        return flat(tensor(given).asnumpy())

    def grads(self):
        return [[flat(g.asnumpy()) for g in group] for group in self.last]

    def hypers(self):
        return [{k: (v.asnumpy().tolist() if hasattr(v, "asnumpy") else v)
                 for k, v in group.items() if k != "params"}
                for group in self.optimizer.param_groups]
'''


def driver(adapter: MindSporeAdapter, scenario: Scenario) -> Driver:
    """The MindSpore driver for ``scenario`` on ``adapter``'s configuration."""
    from radam_verify.suite.scenario import scenario_json

    def entry(group: GroupSpec) -> dict[str, object]:
        found = {k: v for k, v in adapter.entry(group.hyper, []).items() if k != "params"}
        found["params"] = [[float(x) for x in np.ravel(p)] for p in group.params]
        return found

    text = "".join([
        literal("DTYPE", adapter.fmt.name, "the dtype of the parameters"),
        literal("KWARGS", dict(adapter.kwargs), "the constructor's keywords"),
        literal("GROUPS", [entry(g) for g in scenario.groups],
                "the parameter groups as MindSpore takes them, and the initial values"),
        literal("ADDED", [], "MindSpore's optimizers take no groups later"),
        literal("START", scenario_json(scenario).get("start"),
                "the state injected before the first step (None: a fresh optimizer)"),
    ])
    return Driver("MindSpore and numpy", IMPORTS, text, RUN_CLASS)
