"""One exception tree for radam-verify.

Every error a user can cause derives from :class:`RadamVerifyError`; its message says
what was expected and how to fix it, so the command line can print it as one line.
"""

from __future__ import annotations


class RadamVerifyError(Exception):
    """Base class of every error raised on purpose by radam-verify."""


class UsageError(RadamVerifyError, ValueError):
    """The caller passed something malformed (a bad option, value or specification)."""


class ConventionError(UsageError):
    """A convention specification names an unknown preset, axis or axis value."""


class OutOfDomainError(RadamVerifyError, ArithmeticError):
    """Exact arithmetic is undefined for the input (0/0 with eps = 0) or leaves the float range."""


class UndecidedError(RadamVerifyError, ArithmeticError):
    """A comparison could not be decided within the precision budget."""


class ImplementationError(RadamVerifyError):
    """The implementation under test raised in its own code (constructor, step, state dict).

    Adapters raise it around exactly the calls into the implementation
    (:func:`radam_verify.adapters.base.implementation_call`), so that a property fails with
    "the implementation raised" only for these; any other exception inside a property is
    an internal error of the suite, reported as such and never blamed on the implementation.
    """

    def __init__(self, call: str, error: Exception) -> None:
        text = str(error).strip().splitlines()
        super().__init__(f"{type(error).__name__}: {text[0] if text else ''} (in {call})")
        self.call, self.error = call, error


class UncertifiedError(RadamVerifyError, ArithmeticError):
    """The fast reference cannot certify its result for this input (a double-double value
    near the top of binary64's range, where its error-free transformations overflow): the
    caller judges it exactly instead."""
