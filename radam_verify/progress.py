"""Progress on a terminal, quiet otherwise: one status line, rewritten in place."""

from __future__ import annotations

import sys


def show(message: str) -> None:
    """Replace the status line with ``message`` (only when stderr is a terminal)."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\rradam-verify: {message}\033[K")
        sys.stderr.flush()


def clear() -> None:
    """Erase the status line."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
