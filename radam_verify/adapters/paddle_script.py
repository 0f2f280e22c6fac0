"""The PaddlePaddle part of a stand-alone reproduction script (see
:mod:`radam_verify.adapters.script`).

The script builds the optimizer as the adapter does: ``cls(learning_rate=1.0,
parameters=[{"params": [...], "learning_rate": lr, "beta1": ..., ...}, ...], **KWARGS)``,
each group's learning rate as its scale of 1.0; gradients as ``param.grad``; state read
through ``state_dict()`` and set through ``set_state_dict()``, every call under the run's
own name generator (so a second optimizer in the script names its tensors as the first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from radam_verify.adapters.script import Driver, literal

if TYPE_CHECKING:
    from radam_verify.adapters.base import GroupSpec
    from radam_verify.adapters.paddle_adapter import PaddleAdapter
    from radam_verify.suite.scenario import Scenario

RUN_CLASS = '''
def tensor(values):
    """A tensor of ``values`` in the parameters' dtype."""
    return paddle.to_tensor(np.asarray(values, dtype=np.float64).astype(REAL), dtype=REAL)


def values(data):
    """A tensor's values as a new float64 array."""
    return np.asarray(data.numpy()).astype(np.float64).reshape(-1)


class Run:
    """The Paddle optimizer over GROUPS and its parameters, under a name generator of its own."""

    def __init__(self, cls, groups=None):
        groups = GROUPS if groups is None else groups
        self.cls, self.groups = cls, [dict(g) for g in groups]
        self.names = UniqueNameGenerator()
        with unique_name.guard(self.names):
            self.tensors = [[paddle.create_parameter(
                [len(p)], dtype=REAL,
                default_initializer=paddle.nn.initializer.Assign(np.asarray(p, dtype=REAL)))
                for p in g["params"]] for g in groups]
            entries = [{**{k: v for k, v in g.items() if k != "params"}, "params": ts}
                       for g, ts in zip(groups, self.tensors)]
            self.optimizer = cls(learning_rate=1.0, parameters=entries, **KWARGS)
        self.sizes = [[len(p) for p in g["params"]] for g in groups]
        self.pending = {}

    def state(self, g, p, name):
        state = self.optimizer.state_dict() or self.pending
        prefix = f"{self.tensors[g][p].name}_{name}_"
        return next((v for k, v in state.items() if k.startswith(prefix)), None)

    def inject(self, start):
        wanted = {}
        for g, (tensors, states) in enumerate(zip(self.tensors, start)):
            getcontext().prec = 80
            # the powers of the betas as the kernel holds them (float attributes: binary32)
            b1, b2 = (Decimal(float(np.float32(self.groups[g][b]))) for b in ("beta1", "beta2"))
            for p, s in zip(tensors, states):
                p.set_value(np.asarray(s["theta"], dtype=REAL))
                t, n = int(s["t"]), len(s["theta"])
                # b1^t, b2^t and t b2^t / (1 - b2^t) to 80 digits, then rounded once
                rho = (1.0 if not t else float("inf") if b2 == 1
                       else float(t * b2**t / (1 - b2**t)))
                powers = {"moment1": s["m"], "moment2": s["v"], "beta1_pow": [float(b1**t)] * n,
                          "beta2_pow": [float(b2**t)] * n, "rho": [rho] * n}
                for name, held in powers.items():
                    wanted[f"{p.name}_{name}_0"] = tensor(held)
        with unique_name.guard(self.names):
            self.optimizer.set_state_dict(wanted)
        self.pending = wanted

    def add_group(self, group):
        raise RuntimeError("a Paddle optimizer has no public add_param_group")

    def step(self, grads):
        for tensors, group in zip(self.tensors, grads):
            for p, g in zip(tensors, group):
                if g is None:
                    p.clear_gradient(False)
                else:
                    p.grad = tensor(g)
        with unique_name.guard(self.names):
            self.optimizer.step()
        self.pending = {}

    def read(self, g, p, quantity):
        if quantity == "theta":
            return values(self.tensors[g][p])
        if quantity in ("v_max", "slow"):  # no AMSGrad maximum, no Lookahead in its RAdam
            return None
        held = self.state(g, p, "moment1" if quantity == "m" else "moment2")
        return None if held is None else values(held)

    def copy(self, cls):
        groups = [{**group, "params": [values(t).tolist() for t in ts]}
                  for group, ts in zip(self.groups, self.tensors)]
        return Run(cls, groups)

    def save(self):
        buffer = io.BytesIO()
        paddle.save(self.optimizer.state_dict(), buffer)
        return buffer.getvalue()

    def load(self, saved):
        state = paddle.load(io.BytesIO(saved))
        with unique_name.guard(self.names):
            self.optimizer.set_state_dict(state)
        self.pending = state

    def load_live(self, source):
        state = source.optimizer.state_dict()
        with unique_name.guard(self.names):
            self.optimizer.set_state_dict(state)
        self.pending = dict(state)

        def change():  # every tensor of that state dict object + 1, in place
            for held in state.values():
                if hasattr(held, "set_value"):
                    held.set_value(np.asarray(held.numpy()) + 1)
        return change

    def retune(self, hypers):
        """Set the first groups' hyperparameters where Paddle reads them at the next step, as
        its _add_param_group sets them (Paddle's own group keys)."""
        for group, entry in zip(self.optimizer._param_groups, hypers):
            group.update(entry)
            decay = entry.get("weight_decay")
            for param in group["params"]:
                param.optimize_attr["learning_rate"] = entry["learning_rate"]
                param.regularizer = paddle.regularizer.L2Decay(decay) if decay else None

    def change_hypers(self):
        for group in self.optimizer._param_groups:
            for key in ("beta1", "beta2", "epsilon"):
                if isinstance(group.get(key), float):
                    group[key] *= 0.5

    def rounded(self, given):
        return values(tensor(given))

    def grads(self):
        return [[None if t.grad is None else values(t.grad) for t in ts] for ts in self.tensors]

    def hypers(self):
        return [{k: getattr(v, "_coeff", v) for k, v in group.items() if k != "params"}
                for group in self.optimizer._param_groups]
'''


def driver(adapter: PaddleAdapter, scenario: Scenario) -> Driver:
    """The Paddle driver for ``scenario`` on ``adapter``'s configuration."""
    from radam_verify.suite.scenario import scenario_json

    def entry(group: GroupSpec) -> dict[str, object]:
        found = {k: v for k, v in adapter.entry(group.hyper, []).items() if k != "params"}
        found["params"] = [[float(x) for x in np.ravel(p)] for p in group.params]
        return found

    text = "".join([
        literal("REAL", adapter.fmt.name, "the dtype of the parameters"),
        literal("KWARGS", dict(adapter.kwargs), "the constructor's keywords"),
        literal("GROUPS", [entry(g) for g in scenario.groups],
                "the parameter groups as Paddle takes them (learning_rate: the scale of the "
                "optimizer's learning_rate=1.0) and the initial values"),
        literal("ADDED", [], "Paddle optimizers take no groups after construction"),
        literal("START", scenario_json(scenario).get("start"),
                "the state injected before the first step (None: a fresh optimizer)"),
    ])
    imports = ("import paddle\nfrom paddle.base.unique_name import UniqueNameGenerator\n"
               "from paddle.utils import unique_name\n")
    retuned = tuple((k, tuple({k: v for k, v in adapter.entry(h, []).items() if k != "params"}
                              for h in hypers)) for k, hypers in scenario.retuned)
    return Driver("paddlepaddle and numpy", imports, text, RUN_CLASS, retuned)
