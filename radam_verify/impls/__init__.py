"""The project's own RAdam implementations (numpy, any convention, float32 or float64)."""

from radam_verify.impls.numpy_radam import NumpyRAdam

__all__ = ["NumpyRAdam"]
