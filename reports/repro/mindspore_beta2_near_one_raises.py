"""mindspore.experimental.optim.RAdam raises ValueError for beta2 within 2^-25 of 1.

The constructor accepts betas in [0, 1), but the step evaluates rho_inf = 2 / (1 - beta2) - 1
with beta2 a float32 scalar of its compiled graph (mindspore/experimental/optim/radam.py):
every beta2 above 1 - 2^-25 rounds to 1.0 in float32, and the first step raises
"ValueError: The divisor could not be zero" where the exact step is finite (RAdam's rule
for rho_t <= 5 gives an SGD step with m_hat at every t until rho_t grows past 5; here, with
rho_inf of about 2 / (1 - beta2), after a handful of steps).

Run: python mindspore_beta2_near_one_raises.py  (needs mindspore, numpy; exit status 1 =
deviation)
"""

import os
import sys
import tempfile

os.environ.setdefault("GLOG_v", "3")
os.environ.setdefault("MS_OM_PATH", tempfile.mkdtemp())  # the graph of a failed compilation

import mindspore
import numpy as np
from mindspore.experimental import optim

BETA2 = 0.99999999  # < 1, and 1 - BETA2 = 1e-8 < 2^-25 (float32(BETA2) == 1.0)


def main() -> int:
    print(f"mindspore {mindspore.__version__}")
    mindspore.set_device("CPU")
    print(f"beta2 = {BETA2!r}, float32(beta2) = {float(np.float32(BETA2))!r}")
    param = mindspore.Parameter(mindspore.Tensor(np.ones(2), mindspore.float64), name="theta")
    optimizer = optim.RAdam([param], lr=1e-3, betas=(0.9, BETA2))
    try:
        optimizer((mindspore.Tensor(np.array([0.5, -0.5]), mindspore.float64),))
    except ValueError as error:
        print(f"the first step raised ValueError: {str(error).splitlines()[0]}  <-- DEVIATION "
              "(exact: theta = 1 - lr * g, an SGD step, since rho_1 = 1 <= 5)")
        print("DEVIATION reproduced")
        return 1
    print(f"theta after one step: {param.asnumpy().tolist()} (exact: [0.9995, 1.0005])")
    print("no deviation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
