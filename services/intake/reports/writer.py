"""Group commit for new reports: reports submitted together share one transaction.

Each accepted ``POST /v1/reports`` hands its rows (the report, its idempotency record and
its ``report.received`` outbox message) to the writer and waits for the commit. The writer
takes whatever is waiting, writes it in one transaction — one statement executed for every
report, pipelined — and answers every waiter once it has committed. It never waits on a
timer: an idle writer commits a lone report at once, while under load the reports that
arrive during one commit go together in the next, so a transaction carries as many
reports as the load brings (up to ``max_batch``) and the database sees a round trip per
batch instead of three per report. ``concurrency`` commits may be in flight at once.

A batch that breaks a unique constraint (a retried key, a report id already taken), or
holds a value the database refuses, is rolled back and its reports are written one
transaction each: the new ones are stored, a taken one comes back ``False`` for the caller
to answer (replay, 422, 409), a refused one gets its own error. When the database is out of
reach every report of the batch is answered 503 and nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.reports import repository
from shared.errors import ServiceUnavailable

log = logging.getLogger("wangge.intake.writer")


@dataclass(frozen=True)
class NewReport:
    """The rows one new report writes."""

    report: dict[str, Any]
    record: dict[str, Any]
    message: dict[str, Any]


class ReportWriter:
    """Writes new reports in shared transactions; ``await write(rows)`` once it is committed."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_commit: Callable[[], None] = lambda: None,
        max_batch: int = 256,
        concurrency: int = 2,
    ) -> None:
        self.engine = engine
        self._on_commit = on_commit
        self.max_batch = max_batch
        self.concurrency = concurrency
        self._waiting: list[tuple[NewReport, asyncio.Future[bool]]] = []
        self._committers: set[asyncio.Task[None]] = set()
        self._active = 0
        """committers still looping; counted down by the committer itself (see ``_commit_waiting``)"""
        self._closed = False

    async def write(self, rows: NewReport) -> bool:
        """True once the report is committed; False when its key or id was taken (nothing written).

        Raises ``ServiceUnavailable`` when the database cannot be reached (nothing written).
        """
        if self._closed:
            raise ServiceUnavailable("intake is shutting down; retry the report")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((rows, future))
        if self._active < self.concurrency:
            self._active += 1
            committer = asyncio.create_task(self._commit_waiting())
            self._committers.add(committer)
            committer.add_done_callback(self._committers.discard)
        # shielded: a caller that goes away does not take its batch-mates' answers with it
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Refuse new reports and wait until those already handed over are committed."""
        self._closed = True
        while self._committers:
            await asyncio.gather(*self._committers, return_exceptions=True)

    async def _commit_waiting(self) -> None:
        # Runs from the next turn of the event loop, so it finds every report handed over meanwhile.
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
                try:
                    outcomes = await self._commit([rows for rows, _ in batch])
                except BaseException:  # cancelled: nobody is left waiting for an answer that never comes
                    stranded = batch + (self._waiting if self._active == 1 else [])
                    for _, future in stranded:
                        if not future.done():
                            future.set_exception(ServiceUnavailable("intake is shutting down; retry"))
                    raise
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            # In the same step as the last look at the queue: a report handed over from now on
            # starts a committer of its own. (The task's done-callback runs a turn later; a
            # count kept by it let a report arrive in between, see none free, and wait forever.)
            self._active -= 1

    async def _commit(self, batch: Sequence[NewReport]) -> list[bool | BaseException]:
        try:
            await self._insert(batch)
        except Exception as exc:
            if _out_of_reach(exc):
                log.warning("could not commit %d new reports: %s", len(batch), exc)
                return [_unavailable(exc) for _ in batch]
            if len(batch) == 1:
                return [await self._answer_alone(exc)]
            # A taken key or id, or one report the database refuses: the rest still go in.
            outcomes = [await self._commit_one(rows) for rows in batch]
        else:
            outcomes = [True] * len(batch)
        if any(outcome is True for outcome in outcomes):
            self._on_commit()
        return outcomes

    async def _commit_one(self, rows: NewReport) -> bool | BaseException:
        try:
            await self._insert([rows])
        except Exception as exc:
            if _out_of_reach(exc):
                log.warning("could not commit a new report: %s", exc)
                return _unavailable(exc)
            return await self._answer_alone(exc)
        return True

    async def _answer_alone(self, exc: Exception) -> bool | BaseException:
        """The answer to one report whose insert failed while the database is reachable."""
        if isinstance(exc, IntegrityError):
            return False  # its key or id is taken: the caller replays or answers 409
        if not isinstance(exc, DataError):  # a value the database refuses is the client's 422
            log.exception("could not commit a new report", exc_info=exc)
        return exc

    async def _insert(self, batch: Sequence[NewReport]) -> None:
        async with self.engine.begin() as connection:
            await repository.insert_reports(
                connection,
                reports=[rows.report for rows in batch],
                records=[rows.record for rows in batch],
                messages=[rows.message for rows in batch],
            )


def _out_of_reach(exc: Exception) -> bool:
    """The database cannot be reached right now (the report may simply be retried)."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, OSError | TimeoutError | PoolTimeout)


def _unavailable(exc: Exception) -> ServiceUnavailable:
    error = ServiceUnavailable("the database is out of reach; retry the report")
    error.__cause__ = exc
    return error
