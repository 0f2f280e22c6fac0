#!/usr/bin/env python3
"""tensorflow_addons.optimizers:RectifiedAdam, the default path, float32 on cpu: theta[22]
(element (2, 0) of shape (3, 11)) of group 0, tensor 0 after step 6 is 0.1497706174850464
where the exact value is 0.1497695427121550181 (error 72.1 ulps against a bound of 62.8 ulps
of the operand scale) with lr = 1.0, beta2 = 0.839768574865979, eps = 0.0 (6 steps, 1 group,
1 tensor of shape (3, 11)).

Found by the property "Steps around the threshold follow the exact branch" (convention
optax,weight_decay=decoupled) for tensorflow_addons.optimizers:RectifiedAdam (tensorflow-
addons 0.23.0, tensorflow 2.15.1), float32 on cpu. This script needs only TensorFlow and
numpy: not radam-verify and not Hypothesis. It runs the counterexample's first 6 step(s) and
compares theta of group 0, tensor 0 (step count 6) with EXACT, element by element, within
BOUND.

EXACT and BOUND: the exact values come from radam-verify's reference, which evaluates the
optax,weight_decay=decoupled convention's step in mpmath at 128 bits on the inputs as given
(every float converts to a binary rational exactly; the result is exact to far beyond the 20
digits kept here). BOUND is radam-verify's error model (a running error analysis,
derivations/error-model.md) for float32 arithmetic with the scalar schedule evaluated in
binary64, accumulated over the steps taken: the largest distance from EXACT a correct
implementation may have.

Run: python THIS_FILE [MODULE:ATTR] (default tensorflow_addons.optimizers:RectifiedAdam; any
implementation with the same API, e.g. a fixed version). Exit status: 1 while the deviation
is there, 0 once it is gone.
"""
import importlib
import io  # noqa: F401
import math
import pickle  # noqa: F401
import sys
import traceback
from decimal import Decimal, getcontext

import numpy as np
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

SPEC = 'tensorflow_addons.optimizers:RectifiedAdam'
# the dtype of the parameters
DTYPE = 'float32'
# function: apply_gradients inside tf.function; eager
PATH = 'function'
# keywords beside each group's
KWARGS = {}
# one optimizer per group: its keywords and initial values
GROUPS = [
    {'arguments': {'learning_rate': 1.0, 'beta_1': 0.9, 'beta_2': 0.839768574865979, 'epsilon': 0.0, 'weight_decay': 0.0}, 'params': [[0.7757803797721863, -0.3606932759284973, -0.6322780251502991, -0.9047192335128784, 0.11444982886314392, 0.17234580218791962, 0.6134966611862183, 0.1000709980726242, 0.5317690968513489, 0.4156872034072876, 0.10093727707862854, -0.1283232569694519, 0.1350531429052353, -0.5776998996734619, 0.909434974193573, -0.13413996994495392, 0.37997421622276306, 0.20638513565063477, -0.10800126940011978, -0.2160469889640808, -0.18347804248332977, -0.5037701725959778, 0.2715989351272583, 0.14536699652671814, 0.6790110468864441, -0.26752662658691406, 0.1703934520483017, 0.1798882931470871, 0.22187696397304535, 0.4074479639530182, 0.437313050031662, -0.30288147926330566, -0.3738318979740143]]},
]
# a Keras optimizer takes no groups later
ADDED = []
# the state injected into the slots m, v and iterations (None: fresh)
START = None
# the gradients: STEPS[step][group][tensor] (None: no gradient that step)
STEPS = [
    [([-0.03767584264278412, -0.008525612764060497, -0.028675174340605736, 0.46608325839042664, 0.634060263633728, 0.011840923689305782, 0.05183098837733269, 0.009238642640411854, 0.06065967679023743, 0.010321282781660557, -0.014957430772483349, 0.4686224162578583, 3.2229864679470793e-44, 0.07405620068311691, -0.0017866769339889288, 0.3147258758544922, 0.22977083921432495, -0.005225264932960272, 0.42604225873947144, -0.001498663448728621, -0.010194153524935246, 0.0028238289523869753, 0.022439753636717796, 0.2448909878730774, 0.004919564351439476, 0.0014323986833915114, 0.016355186700820923, 0.00394038949161768, 0.0018717986531555653, 0.05508041009306908, 0.007872059941291809, -0.10374917089939117, 0.003967768512666225],)],
    [([0.4404752552509308, 0.03405018895864487, 0.010786664672195911, 0.9654994606971741, 0.008868101052939892, 0.003532947041094303, 0.43681180477142334, 0.2735307812690735, -0.10084821283817291, 0.7503103017807007, 0.5986096858978271, -0.17568938434123993, 0.3820359408855438, 0.005513662938028574, 0.0026530148461461067, -0.10237302631139755, 0.1392693668603897, -0.003170726587995887, 0.015369927510619164, -0.5379814505577087, 0.04832838848233223, 0.054326001554727554, -0.003822868224233389, 0.03785007447004318, -0.037179555743932724, 0.0018484466709196568, 0.8827303647994995, 0.05178295075893402, 0.0010452655842527747, 0.2079445719718933, 0.8605916500091553, -0.05883152037858963, 0.00910007394850254],)],
    [([0.05622897297143936, -0.0013202454429119825, 0.13628889620304108, 0.050942182540893555, -0.30051881074905396, 0.03948948159813881, 0.27525314688682556, 0.9795596599578857, 0.011263268068432808, 0.0032588497269898653, 0.014963197521865368, 0.18161426484584808, 0.020781973376870155, 0.05822913348674774, 0.0024103240575641394, 0.1507893055677414, 0.006922248750925064, 0.0037312356289476156, -0.38801631331443787, 0.049344468861818314, 0.02841167338192463, -0.4971315264701843, 0.0018114957492798567, -0.12259234488010406, 0.009637110866606236, 0.003359148744493723, 0.10577814280986786, 0.012259305454790592, -0.009765342809259892, 0.6776934862136841, 0.003961822483688593, 0.03439703211188316, 0.0011804283130913973],)],
    [([-0.036314141005277634, -0.024468278512358665, 0.007249475456774235, 2.6624670822171524e-44, -0.1218726709485054, 0.12221768498420715, -0.0038587579037994146, 0.8232130408287048, 0.10314598679542542, 0.03923271596431732, 0.3338305354118347, 0.028811197727918625, 0.026781482622027397, 0.005954197142273188, 0.002940400270745158, 0.13641487061977386, 0.3406692147254944, 0.10799317806959152, 0.01277804933488369, -0.05335391312837601, 0.04900466278195381, -0.6452057957649231, 2.6624670822171524e-44, 0.003121389541774988, 0.4273647367954254, 0.4832651615142822, -0.0013957151677459478, 0.003932530526071787, 0.08106827735900879, 0.23256024718284607, 0.06608113646507263, 0.003756363410502672, 0.0022538485936820507],)],
    [([-0.26393914222717285, 0.0011690459214150906, 0.013299059122800827, -0.026279186829924583, 0.0044625685550272465, 0.011687420308589935, 0.004659875296056271, 0.007006228901445866, 0.6034109592437744, 0.01784539222717285, -0.014374569058418274, -0.06815902143716812, 0.09827104210853577, 0.09568186849355698, 0.001795878284610808, 0.05568109080195427, 0.16135068237781525, 0.24361559748649597, -0.05829116702079773, 0.0024644453078508377, -0.001783285872079432, 0.009314533323049545, 1.233142648605839e-43, 0.026172945275902748, 0.485759973526001, 0.02393452823162079, 0.18422743678092957, -0.02853523939847946, -0.1336924135684967, -0.008944123983383179, -0.4672999978065491, 0.006267930846661329, -0.0010435914155095816],)],
    [([0.14277882874011993, 0.01568322256207466, 0.031407106667757034, 0.0039489115588366985, -0.6145179271697998, -0.0039713215082883835, -0.048390500247478485, 0.061949364840984344, -0.3761233389377594, 3.363116314379561e-44, 0.30879753828048706, 0.037298355251550674, -0.7396120429039001, 3.363116314379561e-44, 0.5448986887931824, -0.6715550422668457, -0.25511646270751953, 0.002328641479834914, 0.002362032188102603, 0.07058708369731903, 0.00651058554649353, -0.014303982257843018, -0.0033226495143026114, 0.19342605769634247, 0.3660101294517517, 0.0025027294177562, -0.03552260622382164, 0.015312242321670055, 0.2344476878643036, 0.024830009788274765, 0.15574967861175537, 0.04992425814270973, -0.8604870438575745],)],
]
# the exact values (decimal, 20 significant digits)
EXACT = [
    '0.27460126201230645739',
    '-0.42208724030802293144',
    '-0.8700164401593844462',
    '-3.3344470239448271272',
    '-0.85265028540432715476',
    '-0.13365963409669360008',
    '-0.4469330406212078474',
    '-1.7110457096501913599',
    '0.27559356473683990693',
    '-0.72636458614249247022',
    '-1.0244211771846724016',
    '-1.1662955728542440904',
    '-0.34435976110548760996',
    '-1.0388277471593186994',
    '0.77050013082150373778',
    '-0.83503331203974746024',
    '-0.62807917817536362663',
    '-0.066398346716328142834',
    '-0.69222524810083268658',
    '0.55609455594830789443',
    '-0.47948280202671607405',
    '0.33204681535560419429',
    '0.1497695427121550181',
    '-0.48322339229414843666',
    '0.14734011123786527877',
    '-0.66665359579999565585',
    '-1.282868085100226916',
    '-0.0045367530019862093798',
    '0.13040569905304158136',
    '-0.85444311259313982472',
    '-0.66061491820117850776',
    '-0.015199890849870749043',
    '-0.26348371780329027863',
]
# the largest |observed - exact| a correct implementation may have
BOUND = [
    1.7442665602325408e-06,
    7.579883708876943e-07,
    1.7046547943654285e-06,
    7.1865742933418445e-06,
    3.0760710922828305e-06,
    1.0394732506565036e-06,
    2.5976508361994564e-06,
    3.978569757230141e-06,
    1.0578291439627493e-06,
    2.7286915311994967e-06,
    2.849034667827915e-06,
    3.194641067453753e-06,
    1.3060399373176863e-06,
    2.124798090509227e-06,
    1.2214462158720326e-06,
    2.163394333646387e-06,
    2.206460712849416e-06,
    8.57232842667665e-07,
    2.1472086687710012e-06,
    1.9975117447850833e-06,
    1.4391434334372276e-06,
    2.0621398949503237e-06,
    9.357897624259519e-07,
    1.7076993210297952e-06,
    1.6397366061631425e-06,
    1.2836466035239086e-06,
    3.5927204102656906e-06,
    8.371375376110085e-07,
    5.190457034951938e-07,
    2.9296024103458113e-06,
    2.52479754289976e-06,
    9.047816441625943e-07,
    6.829660998236455e-07,
]
# what is compared
CHECK = {'kind': 'exact', 'steps': 6, 't': 6, 'group': 0, 'tensor': 0, 'quantity': 'theta', 'index': 22}
PRINTED = 24


def flat(values):
    return np.asarray(values).astype(np.float64, copy=True).reshape(-1)


def constant(values):
    return tf.constant(np.asarray(values, dtype=np.float64).astype(DTYPE), dtype=DTYPE)


class Run:
    """One Keras optimizer per group over the group's tf.Variable parameters."""

    def __init__(self, cls, groups=None):
        self.cls, self.entries, self.groups = cls, GROUPS if groups is None else groups, []
        for group in self.entries:
            optimizer = cls(**group["arguments"], **KWARGS)
            variables = [tf.Variable(constant(p)) for p in group["params"]]
            if PATH == "function":  # tf.function creates variables on its first call only
                optimizer._create_all_weights(variables)

            def apply(pairs, optimizer=optimizer):
                optimizer.apply_gradients(pairs)
            self.groups.append({"optimizer": optimizer, "variables": variables, "grads": [],
                                "apply": tf.function(apply) if PATH == "function" else apply})
        self.sizes = [[len(p) for p in group["params"]] for group in self.entries]

    def add_group(self, group):
        raise RuntimeError("a Keras optimizer has no parameter groups")

    def slot(self, g, p, quantity):
        group = self.groups[g]
        try:
            return group["optimizer"].get_slot(group["variables"][p], quantity)
        except KeyError:  # not stepped yet: Keras creates the slot as zeros on its first step
            return None

    def inject(self, start):
        for group, states in zip(self.groups, start):
            group["optimizer"]._create_all_weights(group["variables"])
            group["optimizer"].iterations.assign(int(states[0]["t"]))
            for p, (variable, s) in enumerate(zip(group["variables"], states)):
                variable.assign(constant(s["theta"]))
                group["optimizer"].get_slot(variable, "m").assign(constant(s["m"]))
                group["optimizer"].get_slot(variable, "v").assign(constant(s["v"]))

    def step(self, grads):
        for group, given in zip(self.groups, grads):
            group["grads"] = [None if g is None else constant(g) for g in given]
            pairs = [(g, v) for g, v in zip(group["grads"], group["variables"]) if g is not None]
            if pairs:  # Keras refuses a call without gradients
                group["apply"](pairs)

    def read(self, g, p, quantity):
        if quantity == "theta":
            return flat(self.groups[g]["variables"][p].numpy())
        held = self.slot(g, p, quantity)
        return np.zeros(self.sizes[g][p]) if held is None else flat(held.numpy())

    def copy(self, cls):
        return Run(cls, [{**entry, "params": [flat(v.numpy()).tolist() for v in group["variables"]]}
                         for entry, group in zip(self.entries, self.groups)])

    def checkpoint(self, group):
        return tf.train.Checkpoint(optimizer=group["optimizer"], params=group["variables"])

    def save(self):
        self.folder = tempfile.mkdtemp()
        return [self.checkpoint(group).write(os.path.join(self.folder, f"group{k}"))
                for k, group in enumerate(self.groups)]

    def load(self, saved):
        for group, path in zip(self.groups, saved):
            self.checkpoint(group).read(path)
            group["optimizer"]._create_all_weights(group["variables"])

    def rounded(self, given):
        return flat(constant(given).numpy())

    def grads(self):
        return [[None if g is None else flat(g.numpy()) for g in group["grads"]]
                for group in self.groups]

    def hypers(self):
        return [{k: v for k, v in group["optimizer"].get_config().items() if k != "name"}
                for group in self.groups]


def load(spec):
    """MODULE:ATTR -> the object (ATTR may be dotted)."""
    module, _, attr = spec.partition(":")
    found = importlib.import_module(module)
    for part in attr.split("."):
        found = getattr(found, part)
    return found


def run(cls, steps):
    """A new optimizer from START (if any), after the first ``steps`` steps."""
    state = Run(cls)
    if START is not None:
        state.inject(START)
    for k, grads in enumerate(STEPS[:steps]):
        for before, group in ADDED:
            if before == k:
                state.add_group(group)
        state.step(grads)
    return state


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(a, b, equal_nan=True))


def check_exact(cls):
    """|observed - exact| against BOUND, in exact decimal arithmetic (no rounding of its own)."""
    state = run(cls, CHECK["steps"])
    name = CHECK["quantity"]
    observed = state.read(CHECK["group"], CHECK["tensor"], name)
    if observed is None:
        print(f"{name} cannot be read from this implementation's state")
        return True
    getcontext().prec = 80
    error, bad = [], []
    for value, exact, bound in zip(observed, EXACT, BOUND):
        if not math.isfinite(float(value)):  # NaN and inf are deviations
            error.append(math.inf)
            bad.append(True)
            continue
        distance = abs(Decimal(float(value)) - Decimal(exact))
        error.append(float(distance))
        bad.append(not distance <= Decimal(bound))
    print(f"{name} of group {CHECK['group']}, tensor {CHECK['tensor']} after step {CHECK['t']}:")
    shown = [i for i in range(len(EXACT)) if bad[i]][:PRINTED] or list(range(min(len(EXACT), PRINTED)))
    for i in shown:
        print(f"  {name}[{i}]: exact {EXACT[i]:>25}  observed {float(observed[i])!r:>25}  "
              f"|error| {error[i]:9.3g}  bound {BOUND[i]:9.3g}  {'DEVIATES' if bad[i] else 'ok'}")
    print(f"{sum(bad)} of {len(EXACT)} elements outside their bound")
    return any(bad)


def check_reload(cls):
    save_at = CHECK["save_at"]
    straight, interrupted = run(cls, save_at), run(cls, save_at)
    saved = interrupted.save()
    resumed = interrupted.copy(cls)
    resumed.load(saved)
    for k in range(save_at, len(STEPS)):
        straight.step(STEPS[k])
        resumed.step(STEPS[k])
        for g, group in enumerate(straight.sizes):
            for p in range(len(group)):
                for name in ("theta", "m", "v"):
                    a, b = resumed.read(g, p, name), straight.read(g, p, name)
                    if not same(a, b):
                        print(f"step {k + 1} (state saved after step {save_at}): {name} of group "
                              f"{g}, tensor {p} is {a} after reloading, {b} without")
                        return True
    print("the reloaded run continues bit for bit")
    return False


def read_all(state):
    """theta, m and v of every tensor: ``[group][tensor][quantity]``."""
    return [[{name: state.read(g, p, name) for name in ("theta", "m", "v")}
             for p in range(len(group))] for g, group in enumerate(state.sizes)]


def first_difference(left, right, names):
    """Where two snapshots of read_all first differ, in words (None: bit for bit equal)."""
    for g, (group_l, group_r) in enumerate(zip(left, right)):
        for p, (a, b) in enumerate(zip(group_l, group_r)):
            for name in ("theta", "m", "v"):
                if not same(a[name], b[name]):
                    return (f"{name} of group {g}, tensor {p} is {a[name]} {names[0]}, "
                            f"{b[name]} {names[1]}")
    return None


def check_transplant(cls):
    """An optimizer that loaded another's state dict object in process continues as one
    loaded from a serialized copy, whatever that object and the other optimizer do next."""
    save_at = CHECK["save_at"]
    source = run(cls, save_at)
    loaded, control = source.copy(cls), source.copy(cls)
    control.load(source.save())
    change_loaded_dict = loaded.load_live(source)
    held = read_all(source)
    loaded.step(STEPS[save_at])
    control.step(STEPS[save_at])
    found = first_difference(read_all(source), held, ("now", "before"))
    if found is not None:
        print(f"step {save_at + 1} of the optimizer that loaded the state dict changed the "
              f"optimizer it came from: {found}")
        return True
    change_loaded_dict()
    source.change_hypers()
    source.step(STEPS[save_at])
    for k in range(save_at, len(STEPS)):
        if k > save_at:
            loaded.step(STEPS[k])
            control.step(STEPS[k])
        found = first_difference(read_all(loaded), read_all(control),
                                 ("in the loaded optimizer", "in one loaded from a serialized copy"))
        if found is not None:
            print(f"step {k + 1} (state dict loaded after step {save_at}; then the state dict "
                  f"object, the source's hyperparameters and, by a step, its state were "
                  f"changed): {found}")
            return True
    print("the optimizer that loaded the state dict object continues bit for bit as one "
          "loaded from a serialized copy")
    return False


def check_unchanged(cls):
    state = Run(cls)
    for k, grads in enumerate(STEPS, start=1):
        before = state.hypers()
        state.step(grads)
        held = state.grads()
        for g, group in enumerate(grads):
            for p, given in enumerate(group):
                if not same(None if given is None else state.rounded(given), held[g][p]):
                    print(f"step {k} changed the gradient of group {g}, tensor {p}: "
                          f"{given} -> {held[g][p]}")
                    return True
        if state.hypers() != before:
            print(f"step {k} changed the group hyperparameters: {before} -> {state.hypers()}")
            return True
    print("no step changed its gradients or hyperparameters")
    return False


def check_frozen(cls):
    state = Run(cls)
    before = [[state.read(g, p, "theta") for p in range(len(sizes))]
              for g, sizes in enumerate(state.sizes)]
    for k, grads in enumerate(STEPS, start=1):
        state.step(grads)
        for g, sizes in enumerate(state.sizes):
            for p in range(len(sizes)):
                now, was = state.read(g, p, "theta"), before[g][p]
                changed = now != was
                if CHECK.get("flushes"):  # a subnormal may become zero
                    changed &= ~((np.abs(was) < CHECK["smallest_normal"]) & (now == 0.0))
                if changed.any():
                    i = int(np.argmax(changed))
                    print(f"with lr = 0, step {k} changed theta[{i}] of group {g}, tensor {p} "
                          f"from {float(was[i])!r} to {float(now[i])!r}")
                    return True
    print("no step changed a parameter")
    return False


def check_closure(cls):
    through, plain = Run(cls), Run(cls)
    for k, grads in enumerate(STEPS, start=1):
        calls, enabled, returned, loss = through.step_closure(grads)
        plain.step(grads)
        if calls != 1:
            print(f"step {k} called its closure {calls} times")
            return True
        if not all(enabled):
            print(f"step {k} called its closure with gradients disabled")
            return True
        if returned is not loss and (returned is None or float(returned) != float(loss)):
            print(f"step {k} returned {returned!r}, not the closure's loss")
            return True
        for g, group in enumerate(plain.sizes):
            for p in range(len(group)):
                for name in ("theta", "m", "v"):
                    a, b = through.read(g, p, name), plain.read(g, p, name)
                    if not same(a, b):
                        print(f"step {k}: {name} of group {g}, tensor {p} is {a} through "
                              f"step(closure), {b} through step()")
                        return True
    print("each step called its closure once, with gradients enabled, returned its loss and "
          "stepped as step() does")
    return False


def check_placed(cls):
    """Every canary around the parameters' views unchanged after every step; then EXACT."""
    state = Run(cls)
    if START is not None:
        state.inject(START)
    for k, grads in enumerate(STEPS, start=1):
        state.step(grads)
        found = state.canaries_changed()
        if found is not None:
            print(f"step {k} wrote outside the view of {found}")
            return True
    print("every canary outside the parameters' views is unchanged")
    return check_exact(cls) if "quantity" in CHECK else False


def check_exception(cls):
    run(cls, len(STEPS))
    print("no exception")
    return False


def main():
    cls = load(sys.argv[1] if len(sys.argv) > 1 else SPEC)
    try:
        deviates = {"exact": check_exact, "reload": check_reload, "unchanged": check_unchanged,
                    "closure": check_closure, "exception": check_exception,
                    "frozen": check_frozen,
                    "placed": check_placed, "transplant": check_transplant}[CHECK["kind"]](cls)
    except Exception:  # the implementation raised: that is the deviation
        traceback.print_exc()
        print("the implementation raised the exception above")
        deviates = True
    print("DEVIATES" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
