"""Stopping a service's background loops (relays, refreshers) when it shuts down.

Each loop is asked to stop first and finishes the iteration it is in; only a loop still
running after the grace period is cancelled. Cancelling one in the middle of a database call
makes SQLAlchemy terminate the connection in a task of its own, and with aiosqlite that task
can wait forever for a worker thread that is gone: the process (or the test) never ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence


async def finish(tasks: Sequence[asyncio.Task[None]], *, grace_seconds: float = 5.0) -> None:
    """Wait up to ``grace_seconds`` for loops already told to stop, then cancel the rest."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace_seconds)
    for task in pending:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
