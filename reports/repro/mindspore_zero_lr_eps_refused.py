"""mindspore.experimental.optim.RAdam refuses lr = 0 and eps = 0.

Its constructor checks `lr > 0` and `eps > 0` (check_not_less_than_without_equal in
mindspore/experimental/optim/radam.py) where its own documentation and RAdam's definition
allow both: lr = 0 is a legal step that leaves theta unchanged (a learning-rate schedule's
first value or a frozen phase), and eps = 0 is RAdam without its fuzz term (the exact step is
finite wherever v > 0, and below the threshold eps is not used at all).

Run: python mindspore_zero_lr_eps_refused.py  (needs mindspore, numpy; exit status 1 =
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


def main() -> int:
    print(f"mindspore {mindspore.__version__}")
    mindspore.set_device("CPU")
    deviates = False
    for keywords, exact in (({"lr": 0.0}, "theta unchanged: [1.0, 1.0]"),
                            ({"lr": 1e-3, "eps": 0.0}, "theta = 1 - lr * g: [0.9995, 1.0005]")):
        param = mindspore.Parameter(mindspore.Tensor(np.ones(2), mindspore.float64), name="theta")
        try:
            optimizer = optim.RAdam([param], **keywords)
            optimizer((mindspore.Tensor(np.array([0.5, -0.5]), mindspore.float64),))
        except ValueError as error:
            deviates = True
            print(f"RAdam(params, {keywords}): ValueError: {str(error).splitlines()[0]}  <-- "
                  f"DEVIATION (exact after one step with g = [0.5, -0.5]: {exact})")
            continue
        print(f"RAdam(params, {keywords}): theta after one step {param.asnumpy().tolist()} "
              f"(exact: {exact})")
    print("DEVIATION reproduced" if deviates else "no deviation")
    return 1 if deviates else 0


if __name__ == "__main__":
    sys.exit(main())
