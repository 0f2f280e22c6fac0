"""Progress on a terminal, quiet otherwise: one status line, rewritten in place.

The line goes to the process's real standard error (``sys.__stderr__``), so that it still
reaches the terminal while pytest captures ``sys.stderr`` during a property, and is
written only when that stream is a terminal: redirected output and CI logs stay clean.
"""

from __future__ import annotations

import sys
from typing import TextIO


def _terminal() -> TextIO | None:
    stream = sys.__stderr__
    return stream if stream is not None and stream.isatty() else None


def show(message: str) -> None:
    """Replace the status line with ``message`` (only when stderr is a terminal)."""
    stream = _terminal()
    if stream is not None:
        stream.write(f"\rradam-verify: {message}\033[K")
        stream.flush()


def clear() -> None:
    """Erase the status line."""
    stream = _terminal()
    if stream is not None:
        stream.write("\r\033[K")
        stream.flush()
