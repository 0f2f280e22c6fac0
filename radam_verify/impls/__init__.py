"""The project's own RAdam implementations (numpy, any convention, float32 or float64).

``ReferenceRAdam`` follows the plain-object protocol; ``torch_radam.ConventionRAdam`` is a
``torch.optim.Optimizer`` for any convention; ``defects`` is the catalogue of deliberately
defective variants the suite must reject (both import torch, so they load on demand);
``keras3.KerasRAdam`` is RAdam as a Keras 3 optimizer (it imports keras, on demand too).
"""

from radam_verify.impls.numpy_radam import NumpyRAdam
from radam_verify.impls.reference_radam import ReferenceRAdam

__all__ = ["NumpyRAdam", "ReferenceRAdam"]
