"""Deleting the photos nothing names, after a while: those of an app that crashed between its
uploads and its report, of a report given up, of an app's loop, which were kept for ever.

A photo is named by a report's ``photos`` (intake's own reports) or by a case's step (a
resolution's, a check's, a note's: dispatch's timeline, which intake never sees). Each photo
uploaded waits in ``unattached_photos`` until a report names it, which deletes its row in the
report's own transaction. Every hour, the photos that have waited longer than
``WANGGE_INTAKE_PHOTO_UNATTACHED_DAYS`` are taken a batch at a time, the longest waiting first;
dispatch is asked which of them a step names (those wait no more, and are kept) and the others
are deleted, a batch per transaction. While dispatch cannot answer, nothing is deleted.

Two intake processes may purge at once: a photo is deleted by one statement that re-reads its
wait and passes over a photo a report is naming at that moment (:func:`repository.remove_unnamed`).
What no statement can see is a report or a step that names a photo after its deletion: a step
dispatch commits in the moment between its answer and the deletion, a report that comes after
the photo was deleted (an app back after more than the period). It names a URL that answers
404, as a photo an admin removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.clients.dispatch import DispatchClient
from services.intake.photos import repository
from shared.db import session_scope, utcnow
from shared.errors import WanggeError

log = logging.getLogger("wangge.intake.photos")

PURGE_BATCH = 100
"""Photos asked about and deleted per transaction (each holds its picture and thumbnail)."""


class Retention:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        dispatch: DispatchClient,
        *,
        unattached_days: float,
        every_seconds: float = 3600.0,
    ) -> None:
        self.session_maker = session_maker
        self.dispatch = dispatch
        self.keep = timedelta(days=unattached_days)
        self.every_seconds = every_seconds
        self._stopped = asyncio.Event()

    def stop(self) -> None:
        """Finish the batch in hand, then return from :meth:`run_forever`."""
        self._stopped.set()

    async def purge(self, *, now: datetime | None = None) -> int:
        """Delete the photos nothing named that have waited longer than the period; how many.

        Raises what asking dispatch raises (out of reach, or a dispatch without the question):
        the batches already done stay done, the rest wait for the next purge."""
        cutoff = (now or utcnow()) - self.keep
        deleted = 0
        while not self._stopped.is_set():
            async with session_scope(self.session_maker) as session:
                waiting = await repository.waiting_since_before(session, cutoff, limit=PURGE_BATCH)
            if not waiting:
                break
            named = await self.dispatch.named_photos(waiting)
            async with session_scope(self.session_maker) as session:
                await repository.named(session, [photo for photo in waiting if photo in named])
                removed = await repository.remove_unnamed(
                    session, [photo for photo in waiting if photo not in named], cutoff
                )
            deleted += len(removed)
            if len(waiting) < PURGE_BATCH or not (named or removed):
                break  # the last batch; or another process holds this one: the next purge goes on
        return deleted

    async def run_forever(self) -> None:
        """Purge at once, then every ``every_seconds``, until :meth:`stop`."""
        while not self._stopped.is_set():
            try:
                deleted = await self.purge()
                if deleted:
                    log.info("deleted %d photos nothing named within %s", deleted, self.keep)
            except WanggeError as error:  # dispatch out of reach, or without the question
                log.warning("photos nothing named are kept until the next purge: %s", error)
            except Exception:
                log.exception("deleting the photos nothing named failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.every_seconds):
                    await self._stopped.wait()
