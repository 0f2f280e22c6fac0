"""Adapters: torch optimizers, optax transformations, fastai, PaddlePaddle, Keras and MindSpore
optimizers and the plain-object protocol.

:func:`load_adapter` resolves ``MODULE:ATTR`` and picks the adapter for what it finds;
every problem with the user's input is a one-line :class:`~radam_verify.errors.UsageError`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Mapping
from typing import Any

from radam_verify.adapters.base import (
    Adapter,
    Capabilities,
    GroupSpec,
    Instance,
    ParamState,
    StepGrads,
)
from radam_verify.errors import UsageError
from radam_verify.floats import FORMATS

__all__ = ["Adapter", "Capabilities", "GroupSpec", "Instance", "ParamState", "StepGrads",
           "load_adapter", "resolve"]


def resolve(spec: str) -> Any:
    """Import ``MODULE:ATTR`` (ATTR may be dotted) and return the object."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--verify-impl expects MODULE:ATTR, e.g. torch.optim:RAdam or optax:radam; "
                         f"got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as error:
        hint = "install it or check the name"
        if any(name.split(".")[0] == "keras" for name in sys.modules) and \
                error.name in ("tensorflow", "jax", "torch"):
            backend = os.environ.get("KERAS_BACKEND")
            named = (f"KERAS_BACKEND={backend}" if backend else
                     "KERAS_BACKEND is unset, so ~/.keras/keras.json's, tensorflow by default")
            hint = (f"Keras 3 imports the backend it is configured with ({named}); install it "
                    "or set KERAS_BACKEND to an installed one (torch, jax or tensorflow)")
        raise UsageError(f"cannot import module {module_name!r} ({error}); {hint}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"module {module_name!r} has no attribute {attr!r}; check the "
                             "spelling after the colon")
        obj = getattr(obj, part)
    return obj


def distribution(spec: str, obj: Any) -> tuple[str, str]:
    """The distribution that provides ``obj`` and its version: ``("torch-optimi", "0.3.3")``
    for ``optimi:RAdam``. Found from the module that defines the object (else the module the
    spec names) through the installed distributions' file lists; a module outside every
    distribution is named by itself, with its ``__version__`` if it has one."""
    defined = getattr(obj, "__module__", None)
    top = str(defined if isinstance(defined, str) and defined else spec.partition(":")[0])
    top = top.split(".")[0]
    names = importlib.metadata.packages_distributions().get(top, [])
    for name in names:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return top, str(getattr(sys.modules.get(top), "__version__", "unknown"))


#: complex dtypes (torch only) and the real format their parts are verified in
COMPLEX_DTYPES = {"complex64": "float32", "complex128": "float64"}


def load_adapter(spec: str, kwargs: Mapping[str, object] | None = None, device: str = "cpu",
                 dtype: str = "float32") -> Adapter:
    """The adapter for ``spec`` with constructor ``kwargs``, constructed once to check them."""
    real = COMPLEX_DTYPES.get(dtype, dtype)
    if real not in FORMATS:
        raise UsageError(f"--verify-dtype={dtype!r} is not supported; use float32, float64, "
                         "bfloat16, float16 or, for torch optimizers, complex64 or complex128")
    fmt = FORMATS[real]
    obj = resolve(spec)
    extra = dict(kwargs or {})
    package, version = distribution(spec, obj)
    adapter = _adapter(spec, obj, extra, device, dtype, fmt, version)
    adapter.distribution = package
    return adapter


def _adapter(spec: str, obj: Any, extra: dict[str, object], device: str, dtype: str,
             fmt: Any, version: str) -> Adapter:
    if _is_torch_optimizer(obj):
        from radam_verify.adapters.torch_adapter import TorchAdapter

        return TorchAdapter(spec, obj, extra, device, fmt, version,
                            complex_params=dtype in COMPLEX_DTYPES)
    if dtype in COMPLEX_DTYPES:
        raise UsageError(f"--verify-dtype={dtype} needs a torch optimizer; {spec} takes real "
                         "parameters only (use float32 or float64)")
    if fmt.narrow and not (_is_protocol(obj) or _is_keras3(obj)):
        raise UsageError(f"--verify-dtype={dtype} is verified for torch optimizers, Keras 3's "
                         f"and the plain protocol; {spec} is none of them (use float32 or "
                         "float64)")
    from radam_verify.adapters.paddle_adapter import is_paddle

    if is_paddle(obj):
        from radam_verify.adapters.paddle_adapter import PaddleAdapter

        return PaddleAdapter(spec, obj, extra, device, fmt, version)
    if str(getattr(obj, "__module__", None) or "").split(".")[0] == "optax":
        from radam_verify.adapters.optax_adapter import OptaxAdapter

        return OptaxAdapter(spec, obj, extra, device, fmt, version)
    from radam_verify.adapters.mindspore_adapter import is_mindspore

    if is_mindspore(obj):
        from radam_verify.adapters.mindspore_adapter import MindSporeAdapter

        return MindSporeAdapter(spec, obj, extra, device, fmt, version)
    from radam_verify.adapters.keras_adapter import is_keras

    if is_keras(obj):
        from radam_verify.adapters.keras_adapter import KerasAdapter

        return KerasAdapter(spec, obj, extra, device, fmt, version)
    from radam_verify.adapters.fastai_adapter import is_fastai

    if is_fastai(obj):
        from radam_verify.adapters.fastai_adapter import FastaiAdapter

        return FastaiAdapter(spec, obj, extra, device, fmt, version)
    if _is_protocol(obj):
        from radam_verify.adapters.protocol import ProtocolAdapter

        return ProtocolAdapter(spec, obj, extra, device, fmt, version)
    raise UsageError(f"{spec} is not an optimizer (it is {_kind_of(obj)}): expected a "
                     "torch.optim.Optimizer subclass, an optax factory such as optax:radam, a fastai "
                     "optimizer such as fastai.optimizer:RAdam, a paddle.optimizer.Optimizer "
                     "subclass such as paddle.optimizer:RAdam, a Keras optimizer such as "
                     "tensorflow_addons.optimizers:RectifiedAdam, a MindSpore optimizer such as "
                     "mindspore.experimental.optim:RAdam, or a "
                     "class with init(theta) and step(state, grad) (see the README's protocol "
                     "section)")


def _is_keras3(obj: Any) -> bool:
    """A Keras 3 optimizer (its variables take bfloat16 and float16 on every backend)."""
    from radam_verify.adapters.keras_adapter import is_keras3

    return is_keras3(obj)


def _is_protocol(obj: Any) -> bool:
    """A class or factory with ``init(theta)`` and ``step(state, grad)``."""
    return callable(obj) and all(callable(getattr(obj, name, None)) for name in ("init", "step"))


def _kind_of(obj: Any) -> str:
    """What a spec names, in a few words (for the usage error)."""
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    if callable(obj):
        return f"the function {getattr(obj, '__name__', repr(obj))}"
    text = repr(obj)
    return f"a {type(obj).__name__}, {text[:40]}{'...' if len(text) > 40 else ''}"


def _is_torch_optimizer(obj: Any) -> bool:
    if "torch" not in sys.modules or not isinstance(obj, type):
        return False
    import torch

    return issubclass(obj, torch.optim.Optimizer)
