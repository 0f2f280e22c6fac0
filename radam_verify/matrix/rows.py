"""A row of the compatibility matrix, and a finding that explains one of its deviations."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Finding:
    """Why a property fails for a configuration (a defect of the implementation or platform).

    It explains a failed property whose name starts with ``properties`` and whose
    counterexample matches the regular expression ``when``.
    """

    explanation: str
    repro: str  # file name in reports/repro/
    properties: str = "test_"
    when: str = ""

    def explains(self, prop: str, message: str) -> bool:
        return prop.startswith(self.properties) and re.search(self.when, message) is not None

    def at(self, properties: str) -> Finding:
        """The same finding, for the properties whose names start with ``properties``."""
        return replace(self, properties=properties)


@dataclass(frozen=True)
class Configuration:
    """One row of the matrix: an implementation, its keywords, dtype and device."""

    label: str  # the configuration, e.g. "foreach" or "degenerated_to_sgd=True"
    spec: str
    kwargs: Mapping[str, object] = field(default_factory=dict)
    dtype: str = "float32"
    device: str = "cpu"
    convention: str = "auto"
    documented: str = ""  # where the convention is given: the documentation it follows
    findings: tuple[Finding, ...] = ()
    #: how a platform that flushes subnormals is judged (``--verify-subnormals``)
    subnormals: str = "platform"
    #: the environment it runs in: a ``framework(name=...)`` session of ``noxfile.py`` with
    #: exactly the packages that framework needs ("": the environment radam-verify runs in)
    environment: str = ""
    #: environment variables the run needs, e.g. ``{"KERAS_BACKEND": "torch"}``
    variables: Mapping[str, str] = field(default_factory=dict)
    #: whether it has the findings of its module's base class (a class that overrides what
    #: they are about, e.g. its own state_dict, does not)
    inherits: bool = True

    @property
    def slug(self) -> str:
        text = f"{self.spec}-{self.label}-{self.dtype}-{self.device}"
        return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()

    @property
    def module(self) -> str:
        return self.spec.split(":")[0]


#: the float32 (complex64) dtypes and their double-precision twins
_DOUBLE = {"float32": "float64", "complex64": "complex128"}


def and_float64(*configs: Configuration) -> tuple[Configuration, ...]:
    """Each configuration, then the same in float64 (complex128): the adapter reads state
    in every dtype, and double precision runs other kernels and other roundings."""
    return tuple(c for config in configs
                 for c in (config, replace(config, dtype=_DOUBLE[config.dtype])))
