"""The CLI's console: rich on a terminal, whole lines when piped."""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPED_WIDTH = 200


def console_for(*, stderr: bool = False) -> Console:
    """The CLI's console. On a terminal rich wraps at the terminal's width; piped or redirected
    it would wrap at 80 columns and squeeze its tables, and a log file or a ``grep`` wants each
    line whole (``COLUMNS`` still rules when set)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)
