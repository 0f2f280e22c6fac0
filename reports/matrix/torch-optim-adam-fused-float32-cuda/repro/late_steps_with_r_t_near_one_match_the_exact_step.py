#!/usr/bin/env python3
"""torch.optim:Adam, the default path, float32 on cuda: v[112] of group 0, tensor 0 after step
1001 is 1.8834402561187744 where the exact value is 1.8834411968576031202 (error 7.89 ulps
against a bound of 7.55 ulps of the operand scale) with beta2 = 0.99 (1 step, 1 group, 1
tensor of shape (255,)).

Found by the property "Late steps with r_t near one match the exact step" (convention adam)
for torch.optim:Adam (torch 2.11.0, torch 2.11.0+cu130), float32 on cuda. This script needs
only torch and numpy: not radam-verify and not Hypothesis. It runs the counterexample's
first 1 step(s) and compares v of group 0, tensor 0 (step count 1001) with EXACT, element by
element, within BOUND.

EXACT and BOUND: the exact values come from radam-verify's reference, which evaluates the
adam convention's step in mpmath at 128 bits on the inputs as given (every float converts to
a binary rational exactly; the result is exact to far beyond the 20 digits kept here). BOUND
is radam-verify's error model (a running error analysis, derivations/error-model.md) for
float32 arithmetic with the scalar schedule evaluated in binary64, accumulated over the
steps taken: the largest distance from EXACT a correct implementation may have. The tensor
has 255 elements, so EXACT is the certified fast reference (binary64 with the exact
coefficients rounded once, or double-double for a binary64 implementation) and BOUND adds
its own error bound to the implementation's (radam_verify/fast_judge.py, derivations/error-
model.md section 6); the failing element's value in the message is exact (mpmath).

Run: python THIS_FILE [MODULE:ATTR] (default torch.optim:Adam; any implementation with the
same API, e.g. a fixed version). Exit status: 1 while the deviation is there, 0 once it is
gone.
"""
import importlib
import io  # noqa: F401
import math
import pickle  # noqa: F401
import sys
import traceback
from decimal import Decimal, getcontext

import numpy as np
import torch

SPEC = 'torch.optim:Adam'
DEVICE = 'cuda'
# the real dtype of the parameters
REAL = torch.float32
# complex parameters hold consecutive pairs of the real values
COMPLEX = False
LEAF = True
# constructor keywords (the code path)
KWARGS = {'fused': True}
# constructor arguments without a default (from the first group)
REQUIRED = {}
# the keys the optimizer keeps its hyperparameters under in each group
HYPER_KEYS = ['lr', 'betas', 'eps', 'weight_decay']
# where the optimizer keeps m, v and its step count
M_KEY = 'exp_avg'
V_KEY = 'exp_avg_sq'
STEP_KEY = 'step'
# AMSGrad's running maximum (None: not kept)
MAX_KEY = None
# Lookahead's slow weights (None: not kept)
SLOW_KEY = None
STEP_IN_GROUP = False
# state entries a step creates empty (kept so, as the optimizer expects)
EMPTY_KEYS = []
# group entries the optimizer sets on its first step (set before injecting)
GROUP_SET = {}
STEP_DTYPE = 'float32'
STEP_TYPE = int
# the parameter groups: torch's hyperparameters and the initial values
GROUPS = [
    {'params': [[1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0]], 'lr': 0.001, 'betas': (0.9, 0.99), 'eps': 1e-08, 'weight_decay': 0.0, 'maximize': False},
]
# per group (None: tensors of their own): each parameter as a strided view into a storage of canaries, and the layout of its gradients (shape, strides and offset in elements)
PLACEMENTS = [None]
# per group (None: every parameter in REAL): a parameter's own dtype where it differs from REAL
DTYPES = [None]
# groups added with add_param_group before step k (0-based)
ADDED = []
# the state injected before the first step (None: a fresh optimizer)
START = [
    [{'theta': [1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0], 'm': [1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0], 'v': [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 't': 1000}],
]
# the gradients: STEPS[step][group][tensor] (None: no gradient that step)
STEPS = [
    [([-7.542736053466797, -1.2212789058685303, -5.1099748611450195, 6.153959274291992, 6.297908782958984, 2.1003260612487793, 6.260934829711914, 1.6800740957260132, 2.303074359893799, 2.6148579120635986, 1.401298464324817e-44, 1.2960258722305298, -2.552394390106201, 1.00069260597229, 1.401298464324817e-44, 7.110103130340576, 1.3769928216934204, -5.055752277374268, 6.623737335205078, -9.590214729309082, -6.978957653045654, 2.655256509780884, 9.543083190917969, 9.418558120727539, 3.189164876937866, 5.66821813583374, 8.20044994354248, 2.9932780265808105, 7.307793140411377, 5.0300068855285645, 1.967543125152588, -5.856690406799316, 3.72121524810791, 1.241209626197815, 2.4625236988067627, 1.1850618124008179, 2.993415117263794, 2.6824991703033447, 2.653001070022583, 3.857450485229492, 1.3264492750167847, 8.585565567016602, 4.831149101257324, 6.6647114753723145, 7.884991645812988, -3.8310697078704834, 1.401298464324817e-44, -5.146202087402344, 3.7070279121398926, 6.69818639755249, -3.4053399562835693, 6.5049519538879395, -9.931395530700684, 2.2415828704833984, -1.4825912714004517, 2.464193344116211, 5.6630449295043945, -2.749343156814575, -3.875967264175415, 1.340782880783081, -5.322596073150635, -1.9058222770690918, 1.551020622253418, -7.293735504150391, 3.667860507965088, -3.051398515701294, 7.921798229217529, 1.2190245389938354, -4.967689514160156, 1.401298464324817e-44, 1.497648000717163, 4.7293195724487305, 2.3058016300201416, 2.137449264526367, 8.783705711364746, 1.5823346376419067, 3.2521731853485107, 1.0568495988845825, 1.456693172454834, 7.645726203918457, 6.155276298522949, 3.6044209003448486, 1.6689887046813965, 1.401298464324817e-44, 1.0283632278442383, 5.164087772369385, 5.208955764770508, -4.426342487335205, 1.401298464324817e-44, 1.1849948167800903, 1.763623833656311, -3.752995491027832, 2.478487730026245, 9.818004608154297, 8.389678955078125, -1.4190833568572998, 3.8900983333587646, 4.968383312225342, 1.369441270828247, 2.0539772510528564, -5.198976516723633, 7.96357536315918, 2.1965577602386475, -1.7335792779922485, 6.634252548217773, 3.845764398574829, 2.996321678161621, -1.8036407232284546, 1.1821112632751465, 1.042056918144226, -3.801632881164551, 1.5527812242507935, -9.452201843261719, 1.2807879447937012, 2.8319709300994873, 2.4811887741088867, -1.7073063850402832, 5.607325077056885, -4.402554512023926, 5.318114280700684, 1.2100646495819092, 2.2529077529907227, 3.3100388050079346, -2.671290636062622, -1.0980384349822998, 1.563246488571167, -8.810988426208496, -1.4540177583694458, -7.112992286682129, 6.639527320861816, 2.4620323181152344, 2.9294326305389404, 6.668095588684082, -4.79387092590332, 6.8697943687438965, 5.722641944885254, 4.912148475646973, 8.184160232543945, 6.649777889251709, 1.5102981328964233, 5.600467205047607, 1.2209033966064453, -2.665976047515869, 2.4931700229644775, 1.5928250551223755, -8.667724609375, 1.2438747882843018, 1.0113451480865479, 2.1033947467803955, -9.789143562316895, 1.8394802808761597, -6.771646499633789, 1.489750862121582, -3.8581433296203613, 1.401298464324817e-44, 5.206108570098877, -9.561102867126465, 3.7545392513275146, -9.623537063598633, 6.871428489685059, 6.001339912414551, 7.7355265617370605, 4.280470371246338, 2.27177095413208, 3.3750672340393066, -1.6846139430999756, 5.9916181564331055, 1.4793757200241089, 1.401298464324817e-44, 3.4347801208496094, 4.69788932800293, 5.760850429534912, -1.2877391576766968, 4.2163920402526855, 2.5939159393310547, 4.113404750823975, 4.942931175231934, 3.8501672744750977, 5.406125068664551, 3.3115038871765137, -2.9031388759613037, -1.9353916645050049, 1.694929599761963, 4.957949638366699, -4.962623596191406, 1.5684927701950073, 9.372111320495605, 4.689761638641357, 3.3979432582855225, -6.937058448791504, 3.0656349658966064, 2.991884708404541, -1.812484860420227, 1.432634711265564, 5.147787094116211, -6.9841084480285645, 4.762103080749512, 2.337876319885254, 3.7646281719207764, 3.659421920776367, -8.64104175567627, 2.4415981769561768, -1.4614455699920654, 7.532391548156738, 7.847448825836182, 1.1175464391708374, -1.5784252882003784, 4.3279643058776855, 6.149575710296631, -4.042895317077637, 1.5544945001602173, -1.31111741065979, 3.2060673236846924, -6.5389862060546875, 1.648417353630066, 1.1888654232025146, 3.5566816329956055, 1.555310606956482, 1.167948603630066, 5.93286657333374, -6.625621318817139, -2.5022778511047363, -1.968232274055481, 1.8928704261779785, 2.2959976196289062, 3.774919033050537, -3.3714759349823, 2.266465902328491, 4.33931303024292, 4.7398810386657715, 3.6164207458496094, 2.439466714859009, 4.206324577331543, 1.401298464324817e-44, 2.1893937587738037, -2.0100228786468506, 3.5135722160339355, 4.095828056335449, 4.081299304962158, -2.414560079574585, 3.6793737411499023, 9.677643775939941, 2.6793196201324463, 6.966501235961914, 1.2059344053268433, 7.502884387969971, 8.743919372558594, -1.8275278806686401, 1.0282564163208008, 3.0409438610076904, 1.5230432748794556, 9.36766242980957, 7.9012980461120605, 9.134081840515137, 4.016702651977539],)],
]
# the exact values (decimal, 20 significant digits)
EXACT = [
    '1.5589286717226791',
    '1.0049152216591943',
    '1.251118430815341',
    '1.3687121474964445',
    '1.3866365503847196',
    '1.034113695635608',
    '1.3819930494189978',
    '1.0182264896712958',
    '1.0430415150720023',
    '1.0583748190028162',
    '0.99',
    '1.006796830614909',
    '1.0551471712264562',
    '1.000013856916476',
    '0.99',
    '1.495535665240789',
    '1.0089610923099521',
    '1.2456063109017512',
    '1.428738962857897',
    '1.9097221855425695',
    '1.4770584992300455',
    '1.0605038713273376',
    '1.9007043678878115',
    '1.8770923707352276',
    '1.0917077261229413',
    '1.3112869683539454',
    '1.6624737927654594',
    '1.0795971334441152',
    '1.5240384058304364',
    '1.243009692684648',
    '1.0287122594933522',
    '1.3330082252109516',
    '1.1284744292275082',
    '1.0054060133616611',
    '1.0506402296718493',
    '1.004043714992107',
    '1.0796053406426342',
    '1.0619580179867814',
    '1.0603841467754098',
    '1.1387992424599727',
    '1.0075946767919255',
    '1.7271193610554116',
    '1.2234000163857948',
    '1.4341837904995944',
    '1.6117309325454068',
    '1.1367709510656283',
    '0.99',
    '1.2548339592438427',
    '1.1274205594138427',
    '1.4386570101635725',
    '1.105963402178614',
    '1.4131439992239057',
    '1.976326171872216',
    '1.040246937652446',
    '1.0119807687803282',
    '1.0507224883718664',
    '1.3107007787358547',
    '1.0655888779392313',
    '1.1402312223295947',
    '1.0079769873340099',
    '1.2733002895791858',
    '1.0263215855177281',
    '1.0140566497065537',
    '1.5219857760450402',
    '1.1245320070588993',
    '1.0831103290162407',
    '1.6175488718443405',
    '1.0048602082666913',
    '1.236779391090968',
    '0.99',
    '1.012429495340521',
    '1.2136646361834666',
    '1.0431672115700354',
    '1.0356868935842432',
    '1.7615348602386174',
    '1.0150378290548134',
    '1.0957663042749988',
    '1.001169310746625',
    '1.0112195499867653',
    '1.574571291852854',
    '1.368874263111584',
    '1.1199185002684278',
    '1.0178552329635409',
    '0.99',
    '1.000575309283822',
    '1.2566780252073502',
    '1.2613322015933592',
    '1.1859250781518882',
    '0.99',
    '1.0040421271579567',
    '1.021103690266406',
    '1.1308497515567524',
    '1.0514290142789064',
    '1.953932144857391',
    '1.6938671296928085',
    '1.0101379757370939',
    '1.1413286504320066',
    '1.2368483273719928',
    '1.0087536939424768',
    '1.0321882254784265',
    '1.2602935682144383',
    '1.6241853256471592',
    '1.0382486599406462',
    '1.0200529711308413',
    '1.4301330687353406',
    '1.1378990380934564',
    '1.0797794359902129',
    '1.0225311985848806',
    '1.0039738703876195',
    '1.0008588262065223',
    '1.1345241256315148',
    '1.014111295303858',
    '1.883441196857603',
    '1.0064041775952888',
    '1.0702005934892855',
    '1.0515629773276396',
    '1.0191489509239933',
    '1.3044209451979103',
    '1.1838248623134224',
    '1.2728233950259258',
    '1.0046425645616779',
    '1.040755933434857',
    '1.0995635689065837',
    '1.0613579366231585',
    '1.0020568840469837',
    '1.0144373958403008',
    '1.7663351704678014',
    '1.011141676416537',
    '1.4959465927039952',
    '1.4308332304447053',
    '1.0506160313544388',
    '1.0758157553686631',
    '1.4346349877982816',
    '1.2198119845422117',
    '1.461940746688254',
    '1.317486308293601',
    '1.231292026468009',
    '1.6598047871195383',
    '1.4321954597638096',
    '1.0128100045023043',
    '1.303652329148138',
    '1.0049060510384515',
    '1.0610742828592834',
    '1.052158967634087',
    '1.015370916562256',
    '1.7412944990396506',
    '1.0054722448892932',
    '1.000228190085582',
    '1.0342426946078336',
    '1.9482733168365038',
    '1.0238368770373223',
    '1.4485519631600259',
    '1.01219357631192',
    '1.138852699518941',
    '0.99',
    '1.26103566443657',
    '1.90414688035774',
    '1.1309656498975897',
    '1.9161246561445666',
    '1.4621652948885553',
    '1.350160807443399',
    '1.5883837118733966',
    '1.1732242659911778',
    '1.0416094326803818',
    '1.1039107883428574',
    '1.0183792413728685',
    '1.3489948813249888',
    '1.0118855252099686',
    '0.99',
    '1.1079771447858366',
    '1.2107016413816383',
    '1.321873976714726',
    '1.0065827213821388',
    '1.1677796183710623',
    '1.057283999003157',
    '1.1592009864410127',
    '1.2343256860307976',
    '1.1382378804143902',
    '1.2822618825804333',
    '1.0996605799478516',
    '1.0742821533311786',
    '1.0274574089503545',
    '1.0187278634814925',
    '1.235812646165805',
    '1.2362763295747574',
    '1.01460169570154',
    '1.8683647060376196',
    '1.209938642272721',
    '1.1054601838652804',
    '1.4712277992194962',
    '1.0839811774412789',
    '1.0795137410838493',
    '1.0228510136925253',
    '1.0105244221592298',
    '1.2549971196634946',
    '1.4777777081382402',
    '1.2167762575168402',
    '1.0446566568708022',
    '1.1317242527281959',
    '1.1239136879425862',
    '1.7366760262334089',
    '1.0496140165771572',
    '1.0113582315404943',
    '1.5573692243474313',
    '1.6058245307411771',
    '1.0024891004370342',
    '1.0149142639043045',
    '1.1773127503295133',
    '1.3681728141667033',
    '1.153450025448483',
    '1.0141645315102836',
    '1.0071902886453523',
    '1.0927886768399873',
    '1.4175834060297352',
    '1.0171727977174876',
    '1.004134009944865',
    '1.1164998423848829',
    '1.0141899108411134',
    '1.0036410394072142',
    '1.3419890577698086',
    '1.428988578603642',
    '1.0526139444412934',
    '1.028739382846336',
    '1.025829584502992',
    '1.042716050693416',
    '1.132500137060872',
    '1.1036684998016477',
    '1.041368676864177',
    '1.17829637574436',
    '1.2146647226070333',
    '1.1207849901101146',
    '1.04950997852905',
    '1.166931664498634',
    '0.99',
    '1.0379344503095769',
    '1.0304019197268377',
    '1.1134518971728564',
    '1.1577580746706464',
    '1.1565700401668462',
    '1.0483010037787523',
    '1.1253779112706344',
    '1.9265678905398915',
    '1.0617875362682667',
    '1.4753213947065893',
    '1.00454277789951',
    '1.5529327413924356',
    '1.7545612599380553',
    '1.023398581546212',
    '1.000573112577049',
    '1.0824733956580037',
    '1.0131966081715553',
    '1.8675309939886582',
    '1.614305108134943',
    '1.8243145106922847',
    '1.1513390019440342',
]
# the largest |observed - exact| a correct implementation may have
BOUND = [
    7.457394833383496e-07,
    4.815652204816221e-07,
    5.989640873942081e-07,
    6.550371546044965e-07,
    6.635841780018786e-07,
    4.954881411947863e-07,
    6.613699836631788e-07,
    4.879125292236431e-07,
    4.997452582706571e-07,
    5.070567491065146e-07,
    4.7445308685614627e-07,
    4.824624417653357e-07,
    5.055176863419133e-07,
    4.792280670826365e-07,
    4.7445308685614627e-07,
    7.15511334986164e-07,
    4.834944424105394e-07,
    5.96335703164938e-07,
    6.836601775616672e-07,
    9.130109059322804e-07,
    7.067007335287263e-07,
    5.080719606114867e-07,
    9.087108743513701e-07,
    8.974517940138001e-07,
    5.229511216462457e-07,
    6.276546887678872e-07,
    7.951136565118575e-07,
    5.171763396561689e-07,
    7.291025040882928e-07,
    5.950975388146951e-07,
    4.929125351132287e-07,
    6.380121936585425e-07,
    5.404828560999998e-07,
    4.817992482587464e-07,
    5.033686086204424e-07,
    4.81149653618893e-07,
    5.171802531543316e-07,
    5.087653519394414e-07,
    5.080148714826079e-07,
    5.454061118882971e-07,
    4.82842884560835e-07,
    8.259390730211416e-07,
    5.857469142395788e-07,
    6.862564743274995e-07,
    7.709175694090293e-07,
    5.44438946950518e-07,
    4.7445308685614627e-07,
    6.007357898386347e-07,
    5.399803316917202e-07,
    6.883894721945949e-07,
    5.297487593445724e-07,
    6.762239176264344e-07,
    9.447701691594416e-07,
    4.984126995941074e-07,
    4.849343367046869e-07,
    5.034078326346573e-07,
    6.273751717088057e-07,
    5.104966812986194e-07,
    5.46088933264637e-07,
    4.830251844772465e-07,
    6.095412244421611e-07,
    4.917725726535288e-07,
    4.859241941050825e-07,
    7.281237336984897e-07,
    5.386029622632294e-07,
    5.188515622530778e-07,
    7.736917797201055e-07,
    4.815389880455502e-07,
    5.921266987914125e-07,
    4.7445308685614627e-07,
    4.851483062540717e-07,
    5.811047220901188e-07,
    4.998051950460329e-07,
    4.962383006148521e-07,
    8.42349665808244e-07,
    4.863920569900486e-07,
    5.248864029854323e-07,
    4.797790305363391e-07,
    4.845713592108388e-07,
    7.531984676672736e-07,
    6.551144573723663e-07,
    5.364030702652684e-07,
    4.877355001874518e-07,
    4.7445308685614627e-07,
    4.79495788498526e-07,
    6.016151092243156e-07,
    6.038343940013154e-07,
    5.678774668779504e-07,
    4.7445308685614627e-07,
    4.811488964803864e-07,
    4.89284485709929e-07,
    5.416154983225006e-07,
    5.037447305216311e-07,
    9.340918623812268e-07,
    8.100831696896421e-07,
    4.840556242948382e-07,
    5.466122278885484e-07,
    5.921595701796825e-07,
    4.833955471385216e-07,
    4.94570005255365e-07,
    6.033391348930334e-07,
    7.76856288255307e-07,
    4.97459846298872e-07,
    4.887834636624038e-07,
    6.843249392068505e-07,
    5.449768608928247e-07,
    5.172632683051516e-07,
    4.899651748840124e-07,
    4.811163491081399e-07,
    4.796309799348587e-07,
    5.43367576837109e-07,
    4.859502511626945e-07,
    9.00479150950156e-07,
    4.822752101701375e-07,
    5.126957191663839e-07,
    5.038086090965017e-07,
    4.883523931320326e-07,
    6.243807130082827e-07,
    5.668760056843581e-07,
    6.093138233437702e-07,
    4.814352074147176e-07,
    4.98655407755074e-07,
    5.266970802980606e-07,
    5.084792107782999e-07,
    4.802022585686668e-07,
    4.861057480532883e-07,
    8.446386326485491e-07,
    4.845342261899551e-07,
    7.157072805172115e-07,
    6.846588024071585e-07,
    5.033570699607517e-07,
    5.153732376456479e-07,
    6.864716220170907e-07,
    5.840360069190501e-07,
    6.994920256294496e-07,
    6.306107651204905e-07,
    5.895101188074244e-07,
    7.938409751374416e-07,
    6.853083641211837e-07,
    4.853297472052124e-07,
    6.240142082269544e-07,
    4.815608475878334e-07,
    5.083439540909945e-07,
    5.040927994890948e-07,
    4.865508855288419e-07,
    8.326983071650954e-07,
    4.81830829919784e-07,
    4.793302691265543e-07,
    4.955496527129509e-07,
    9.313935222581133e-07,
    4.905877710369799e-07,
    6.931077546000862e-07,
    4.850358112677723e-07,
    5.454316022065301e-07,
    4.7445308685614627e-07,
    6.036929940320631e-07,
    9.103523926105642e-07,
    5.416707629713166e-07,
    9.160638425560225e-07,
    6.995990985809882e-07,
    6.461911841989834e-07,
    7.597847443664696e-07,
    5.618212462395291e-07,
    4.990623880080072e-07,
    5.287699965601521e-07,
    4.879853669285012e-07,
    6.456352271679018e-07,
    4.848889210203047e-07,
    4.7445308685614627e-07,
    5.30708986878372e-07,
    5.796918557282433e-07,
    6.327029689662233e-07,
    4.823603465026098e-07,
    5.59225035314697e-07,
    5.065366054723008e-07,
    5.551344238571949e-07,
    5.909566807612292e-07,
    5.451384335411912e-07,
    6.138144460126036e-07,
    5.267433387784512e-07,
    5.146419590318857e-07,
    4.923141756020042e-07,
    4.881516029441625e-07,
    5.916657187773964e-07,
    5.918868203097597e-07,
    4.861840923511124e-07,
    8.932901181777946e-07,
    5.79328029313676e-07,
    5.295088060962072e-07,
    7.039204384347189e-07,
    5.192668152414629e-07,
    5.171365750704921e-07,
    4.901176746478771e-07,
    4.842398963530159e-07,
    6.008135908082393e-07,
    7.070436791433869e-07,
    5.825884591220247e-07,
    5.005154180818642e-07,
    5.420324930765213e-07,
    5.383081246618253e-07,
    8.304960471857157e-07,
    5.028792719666245e-07,
    4.846374877447652e-07,
    7.449958807042027e-07,
    7.681011768781456e-07,
    4.804083554535406e-07,
    4.863331365206145e-07,
    5.637707879630329e-07,
    6.547799803701847e-07,
    5.523921512991096e-07,
    4.859756361702033e-07,
    4.826500572196997e-07,
    5.234665592386496e-07,
    6.783407922624506e-07,
    4.87410089625573e-07,
    4.81192709617952e-07,
    5.347729267619992e-07,
    4.859877379811124e-07,
    4.809576428909997e-07,
    6.422945893671736e-07,
    6.837792036532216e-07,
    5.043097493892226e-07,
    4.929254685389062e-07,
    4.915379682312394e-07,
    4.995900647238411e-07,
    5.424024636460506e-07,
    5.286544643528287e-07,
    4.989475866610957e-07,
    5.642398172237205e-07,
    5.815816005733188e-07,
    5.368162449186533e-07,
    5.028296627474536e-07,
    5.588206993023503e-07,
    4.7445308685614627e-07,
    4.973100194351727e-07,
    4.93718228091636e-07,
    5.333195528781656e-07,
    5.544463897431132e-07,
    5.538798906098271e-07,
    5.022531785241271e-07,
    5.390063209209603e-07,
    9.2104356596871e-07,
    5.086840599016505e-07,
    7.058724173444592e-07,
    4.813876254148256e-07,
    7.428804002692456e-07,
    8.390243932563823e-07,
    4.903787754101333e-07,
    4.794947410268583e-07,
    5.185478486873118e-07,
    4.855140942446759e-07,
    8.928925731977153e-07,
    7.721450322779393e-07,
    8.722853431444173e-07,
    5.513855366075401e-07,
]
# what is compared
CHECK = {'kind': 'exact', 'steps': 1, 't': 1001, 'group': 0, 'tensor': 0, 'quantity': 'v', 'index': 112}
PRINTED = 24


def disturb(found):
    """Change in place every floating tensor in ``found`` (+ 1) and, in every dict, the
    numbers under HYPER_KEYS (halved, so they stay legal)."""
    if isinstance(found, torch.Tensor):
        if found.is_floating_point() or found.is_complex():
            with torch.no_grad():
                found.add_(1.0)
    elif isinstance(found, dict):
        for key, value in list(found.items()):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            numbers = isinstance(value, (tuple, list)) and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
            if key in HYPER_KEYS and number:
                found[key] = value * 0.5
            elif key in HYPER_KEYS and numbers:
                found[key] = type(value)(x * 0.5 for x in value)
            else:
                disturb(value)
    elif isinstance(found, (list, tuple)):
        for value in found:
            disturb(value)


def tensor(values, dtype=None, pad=0.0):
    """A tensor of ``values`` in the parameters' dtype (complex: consecutive pairs of reals,
    an odd number completed by ``pad``: 1 for gradients and v, so that it never divides 0/0)."""
    data = torch.tensor(np.asarray(values, dtype=np.float64), dtype=REAL, device=DEVICE)
    if dtype is not None:
        data = data.to(getattr(torch, dtype).to_real() if COMPLEX else getattr(torch, dtype))
    if COMPLEX:
        data = torch.view_as_complex(
            torch.nn.functional.pad(data, (0, data.numel() % 2), value=pad)
            .reshape(-1, 2).contiguous())
    return data


def values(data, size):
    """The first ``size`` real values of a tensor, as float64 (a copy)."""
    data = data.detach()
    if data.is_complex():
        data = torch.view_as_real(data)
    return data.to(device="cpu", dtype=torch.float64, copy=True).numpy().reshape(-1)[:size]


def own(values_, dtype=None):
    """A tensor of ``values_`` in the parameters' dtype, or in ``dtype`` (a parameter of
    another dtype in its group, and its gradients)."""
    if dtype is None:
        return tensor(values_)
    return torch.tensor(np.asarray(values_, dtype=np.float64), dtype=getattr(torch, dtype),
                        device=DEVICE)


def parameter(values_, dtype=None):
    if LEAF:
        return torch.nn.Parameter(own(values_, dtype))
    return own(values_, dtype).requires_grad_(True).clone()  # the differentiable path's non-leaf


def view_indices(where):
    """The storage index of every element of the view WHERE, in row-major order."""
    index = np.arange(where["size"], dtype=np.int64)[where["offset"]:]
    return np.lib.stride_tricks.as_strided(
        index, where["shape"], [8 * s for s in where["strides"]]).reshape(-1).copy()


def canaries(size):
    """What a storage holds outside the views: -(17 + i mod 16) / 8 at element i."""
    return -(17.0 + np.arange(size) % 16) / 8.0


def placed(values_, where):
    """A tensor of ``values_`` as the strided view WHERE (shape, strides and offset in
    elements) into a storage of canaries; returns the tensor and its storage."""
    storage = tensor(canaries(where["size"]))
    storage[torch.as_tensor(view_indices(where))] = tensor(np.ravel(values_))
    if not LEAF:  # the differentiable path's non-leaf
        storage = storage.requires_grad_(True).clone()
        return storage.as_strided(where["shape"], where["strides"], where["offset"]), storage
    return torch.nn.Parameter(storage.as_strided(where["shape"], where["strides"],
                                                 where["offset"])), storage


def gradient(values_, where):
    """A gradient tensor of ``values_``, laid out as the view WHERE (None: contiguous)."""
    return (tensor(values_, pad=1.0) if where is None else placed(values_, where)[0]).detach()


class Run:
    """The optimizer over GROUPS and its parameter tensors."""

    def __init__(self, cls, groups=None):
        placements = PLACEMENTS if groups is None else [None] * len(groups)
        dtypes = DTYPES if groups is None else [None] * len(groups)
        groups = GROUPS if groups is None else groups
        self.cls = cls
        wheres = [where or [None] * len(g["params"]) for g, where in zip(groups, placements)]
        self.dtypes = [kinds or [None] * len(g["params"]) for g, kinds in zip(groups, dtypes)]
        made = [[(parameter(p, d), None) if w is None else placed(p, w["param"])
                 for p, w, d in zip(g["params"], row, kinds)]
                for g, row, kinds in zip(groups, wheres, self.dtypes)]
        self.tensors = [[t for t, _ in row] for row in made]
        self.storages = [[s for _, s in row] for row in made]
        self.grad_views = [[None if w is None else w["grad"] for w in row] for row in wheres]
        self.sizes = [[len(p) for p in g["params"]] for g in groups]
        self.groups = [dict(g) for g in groups]
        self.optimizer = cls([{**g, "params": ts} for g, ts in zip(groups, self.tensors)],
                             **REQUIRED, **KWARGS)

    def held_dtypes(self):
        """The dtypes this optimizer class keeps m and v in, from one step on a probe."""
        probe = parameter([0.5])
        optimizer = self.cls([{**{k: v for k, v in GROUPS[0].items() if k != "params"},
                               "params": [probe]}], **REQUIRED, **KWARGS)
        probe.grad = tensor([0.5]).detach()
        optimizer.step()
        state = optimizer.state[probe]
        return [str(state[key].dtype).removeprefix("torch.") if key in state else None
                for key in (M_KEY, V_KEY)]

    def inject(self, start):
        m_dtype, v_dtype = self.held_dtypes()
        for g, (tensors, states) in enumerate(zip(self.tensors, start)):
            for p, s in zip(tensors, states):
                with torch.no_grad():
                    p.copy_(tensor(s["theta"]).reshape(p.shape))
                entry = {M_KEY: tensor(s["m"], m_dtype).reshape(p.shape),
                         V_KEY: tensor(s["v"], v_dtype, pad=1.0).reshape(p.shape)}
                if MAX_KEY is not None:  # AMSGrad's running maximum: v where none is given
                    held = s["v"] if s.get("v_max") is None else s["v_max"]
                    entry[MAX_KEY] = tensor(held, v_dtype, pad=1.0).reshape(p.shape)
                if SLOW_KEY is not None:  # Lookahead's slow weights: theta where none given
                    phi = s["theta"] if s.get("slow") is None else s["slow"]
                    entry[SLOW_KEY] = tensor(phi).reshape(p.shape)
                entry.update(dict.fromkeys(EMPTY_KEYS))
                step = (torch.tensor(float(s["t"]), dtype=getattr(torch, STEP_DTYPE))
                        if STEP_DTYPE else STEP_TYPE(s["t"]))
                self.optimizer.param_groups[g].update(GROUP_SET)
                if STEP_IN_GROUP:
                    self.optimizer.param_groups[g][STEP_KEY] = step
                else:
                    entry[STEP_KEY] = step
                self.optimizer.state[p] = entry

    def add_group(self, group):
        tensors = [parameter(p) for p in group["params"]]
        self.optimizer.add_param_group({**group, "params": tensors})
        self.tensors.append(tensors)
        self.sizes.append([len(p) for p in group["params"]])
        self.groups.append(dict(group))
        self.storages.append([None] * len(tensors))
        self.grad_views.append([None] * len(tensors))
        self.dtypes.append([None] * len(tensors))

    def step(self, grads):
        for tensors, group, views, kinds in zip(self.tensors, grads, self.grad_views, self.dtypes):
            for p, g, view, kind in zip(tensors, group, views, kinds):
                p.grad = (None if g is None else gradient(g, view) if kind is None
                          else own(g, kind).reshape(p.shape))
        self.optimizer.step()

    def canaries_changed(self):
        """The first storage element outside a parameter's view that no longer holds its
        canary, in words (None: every canary is unchanged)."""
        for g, row in enumerate(self.storages):
            for p, storage in enumerate(row):
                if storage is None:
                    continue
                where = PLACEMENTS[g][p]["param"]
                inside = np.zeros(where["size"], dtype=bool)
                inside[view_indices(where)] = True
                held, canary = values(storage, where["size"]), canaries(where["size"])
                changed = np.flatnonzero(~inside & (held != canary))
                if changed.size:
                    i = int(changed[0])
                    return (f"group {g}, tensor {p} ({where['kind']} view, strides "
                            f"{where['strides']}, offset {where['offset']}): storage[{i}] held "
                            f"the canary {float(canary[i])!r} and now holds {float(held[i])!r}")
        return None

    def step_closure(self, grads):
        """step(closure): (calls, gradients enabled in each, what it returned, the loss)."""
        loss = torch.tensor(0.25, dtype=torch.float64)
        enabled = []

        def closure():
            enabled.append(torch.is_grad_enabled())
            for tensors, group in zip(self.tensors, grads):
                for p, g in zip(tensors, group):
                    p.grad = None if g is None else tensor(g, pad=1.0).detach()
            return loss

        for tensors in self.tensors:
            for p in tensors:
                p.grad = None
        returned = self.optimizer.step(closure)
        return len(enabled), enabled, returned, loss


    def read(self, g, p, quantity):
        param, size = self.tensors[g][p], self.sizes[g][p]
        if quantity == "theta":
            return values(param, size)
        key = {"m": M_KEY, "v": V_KEY, "v_max": MAX_KEY, "slow": SLOW_KEY}[quantity]
        state = self.optimizer.state.get(param, {})
        return None if key is None or key not in state else values(state[key], size)

    def copy(self, cls):
        groups = [{**group, "params": [values(t, n).tolist() for t, n in zip(ts, sizes)]}
                  for group, ts, sizes in zip(self.groups, self.tensors, self.sizes)]
        return Run(cls, groups)

    def save(self):
        buffer = io.BytesIO()
        torch.save(self.optimizer.state_dict(), buffer)
        return buffer.getvalue()

    def load(self, saved):
        self.optimizer.load_state_dict(torch.load(io.BytesIO(saved), weights_only=False))

    def rounded(self, given):
        return values(tensor(given), len(given))

    def load_live(self, source):
        state = source.optimizer.state_dict()
        self.optimizer.load_state_dict(state)
        return lambda: disturb(state)

    def grads(self):
        return [[None if t.grad is None else values(t.grad, n) for t, n in zip(ts, sizes)]
                for ts, sizes in zip(self.tensors, self.sizes)]

    def change_hypers(self):
        disturb(self.optimizer.param_groups)

    def hypers(self):
        def plain(x):
            return [plain(y) for y in x] if isinstance(x, (tuple, list)) else (
                x.item() if hasattr(x, "item") else x)
        keys = (*HYPER_KEYS, "maximize")
        return [{k: plain(g[k]) for k in keys if k in g} for g in self.optimizer.param_groups]


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


#: what a run's state holds of each tensor (v_max: AMSGrad's running maximum, None where none)
QUANTITIES = ("theta", "m", "v", "v_max", "slow")


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
                for name in QUANTITIES:
                    a, b = resumed.read(g, p, name), straight.read(g, p, name)
                    if not same(a, b):
                        print(f"step {k + 1} (state saved after step {save_at}): {name} of group "
                              f"{g}, tensor {p} is {a} after reloading, {b} without")
                        return True
    print("the reloaded run continues bit for bit")
    return False


def read_all(state):
    """theta, m, v and v_max of every tensor: ``[group][tensor][quantity]``."""
    return [[{name: state.read(g, p, name) for name in QUANTITIES}
             for p in range(len(group))] for g, group in enumerate(state.sizes)]


def first_difference(left, right, names):
    """Where two snapshots of read_all first differ, in words (None: bit for bit equal)."""
    for g, (group_l, group_r) in enumerate(zip(left, right)):
        for p, (a, b) in enumerate(zip(group_l, group_r)):
            for name in QUANTITIES:
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
    state = run(cls, 0)  # START injected, no step yet
    before = {}  # (group, tensor) -> theta as held before its first step
    for k, grads in enumerate(STEPS, start=1):
        for added_before, group in ADDED:
            if added_before == k - 1:
                state.add_group(group)
        for g, sizes in enumerate(state.sizes):
            for p in range(len(sizes)):
                before.setdefault((g, p), state.read(g, p, "theta"))
        state.step(grads)
        for (g, p), was in before.items():
            now = state.read(g, p, "theta")
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
                for name in QUANTITIES:
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
