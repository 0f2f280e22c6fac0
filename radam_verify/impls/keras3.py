"""RAdam as a Keras 3 optimizer, for any backend: a correct implementation of the ``pytorch``
reading written the way a Keras user writes one (``build`` creates the slots with
``add_variable_from_reference``, ``update_step`` updates one variable), and one that is
wrong in one way. They exercise the Keras adapter's Keras 3 path (Keras 3 ships no RAdam).

The per-step scalars are the textbook formulas in binary64
(:func:`radam_verify.coefficients.textbook_coefficients`), each rounded once to the
variable's dtype, and the elementwise operations are those of :func:`radam_verify.kernel.
apply_step`, in the same order: float32 arithmetic the error model bounds. The step count is
read on the host (``iterations``), so the step runs eagerly, as Keras 3 runs an optimizer
outside ``Model.fit``. Keras 3 keeps the learning rate in a float32 variable (its floatx), so
float64 parameters get a float32 learning rate.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from radam_verify.coefficients import textbook_coefficients
from radam_verify.conventions import PRESETS
from radam_verify.hyper import Hyper

__all__ = ["KerasRAdam", "KerasRAdamStaleStep"]


class KerasRAdam(keras.optimizers.Optimizer):  # type: ignore[misc]
    """RAdam, the ``pytorch`` reading (threshold 5 with ``>``, an SGD step below it, eps beside
    sqrt(v)), without weight decay."""

    #: added to the step count the schedule is evaluated at (0: t, the step being taken)
    step_offset = 0

    def __init__(self, learning_rate: float = 1e-3, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, name: str = "radam", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, var_list: list[Any]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._m = [self.add_variable_from_reference(v, "m") for v in var_list]
        self._v = [self.add_variable_from_reference(v, "v") for v in var_list]

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        dtype = variable.dtype
        lr = float(_host(learning_rate))
        t = int(_host(self.iterations)) + 1 + self.step_offset
        hyper = Hyper(lr=lr, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon)
        c = textbook_coefficients(t, hyper, PRESETS["pytorch"])

        def scalar(x: float) -> Any:
            return ops.convert_to_tensor(np.asarray(x, dtype=dtype), dtype=dtype)

        index = self._get_variable_index(variable)
        m, v = self._m[index], self._v[index]
        g = ops.cast(gradient, dtype)
        m.assign(ops.add(ops.multiply(scalar(self.beta_1), m),
                         ops.multiply(scalar(1.0 - self.beta_1), g)))
        v.assign(ops.add(ops.multiply(scalar(self.beta_2), v),
                         ops.multiply(scalar(1.0 - self.beta_2), ops.multiply(g, g))))
        if c.rectified:
            update = ops.divide(ops.multiply(scalar(c.coeff), m),
                                ops.add(ops.sqrt(v), scalar(self.epsilon)))
            variable.assign(ops.subtract(variable, update))
        elif c.updates:
            variable.assign(ops.subtract(variable, ops.multiply(scalar(c.coeff), m)))

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


class KerasRAdamStaleStep(KerasRAdam):
    """Defective: evaluates the schedule at the next step count (t + 1), as code that reads
    ``iterations`` after it has advanced would."""

    step_offset = 1


def _host(value: Any) -> np.ndarray:
    """A Keras variable's or backend tensor's value as a numpy array."""
    if isinstance(value, keras.Variable):
        value = value.value
    if hasattr(value, "detach"):  # a torch tensor: np.array(tensor) warns under numpy 2
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(ops.convert_to_numpy(value))
