"""Implementations whose step misbehaves after its 50th call in a process: it hangs (in
Python code, or where no signal reaches it, as native code may), kills its process (a
segmentation fault, an abort, or SIGKILL as from the out-of-memory killer), or raises. The
suite must still end with a verdict that names each as a failed property with what
happened and the example it was running (:mod:`radam_verify.watchdog`).

Before its 50th call each is torch's reading of RAdam (:class:`ConventionRAdam`), correct.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Callable
from typing import ClassVar

from radam_verify.impls.torch_radam import ConventionRAdam

#: the call of step() (counted over the whole process) from which each one misbehaves
FROM_CALL = 50


class _Misbehaving(ConventionRAdam):
    calls: ClassVar[int] = 0

    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        type(self).calls += 1
        if type(self).calls >= FROM_CALL:
            self.misbehave()
        return super().step(closure)

    def misbehave(self) -> None:
        raise NotImplementedError


class HangsInPython(_Misbehaving):
    """From its 50th call on, step() loops forever in Python code."""

    def misbehave(self) -> None:
        while True:
            time.sleep(0.01)


class HangsInNativeCode(_Misbehaving):
    """From its 50th call on, step() waits forever where no signal interrupts it (as a
    native kernel that never returns would): SIGALRM is blocked before it sleeps."""

    def misbehave(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        while True:
            time.sleep(3600)


class Crashes(_Misbehaving):
    """On its 50th call, step() reads address 0: the process dies of a segmentation fault."""

    def misbehave(self) -> None:
        ctypes.string_at(0)


class Aborts(_Misbehaving):
    """On its 50th call, step() aborts its process (SIGABRT), as a failed assertion in
    native code does."""

    def misbehave(self) -> None:
        os.abort()


class IsKilled(_Misbehaving):
    """On its 50th call, step()'s process is killed (SIGKILL, which no handler sees), as
    the system's out-of-memory killer ends a process."""

    def misbehave(self) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


class Raises(_Misbehaving):
    """From its 50th call on, step() raises."""

    def misbehave(self) -> None:
        raise RuntimeError(f"step() refuses its {type(self).calls}th call")
