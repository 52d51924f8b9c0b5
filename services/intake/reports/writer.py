"""Group commit for new reports: reports submitted together share one transaction.

Each accepted ``POST /v1/reports`` hands its rows (the report, its idempotency record and
its ``report.received`` outbox message) to the writer and waits for the commit. The writer
takes whatever is waiting, writes it in one transaction — one statement executed for every
report, pipelined — and answers every waiter once it has committed. It never waits on a
timer: an idle writer commits a lone report at once, while under load the reports that
arrive during one commit go together in the next, so a transaction carries as many
reports as the load brings (up to ``max_batch``) and the database sees a round trip per
batch instead of three per report. ``concurrency`` commits may be in flight at once.
The photos each report names wait no more to be named from its commit (``NewReport.photo_ids``).

A key or report id that comes twice in one batch goes in once; the later copies come back
``False`` (taken) for the caller to answer from what the first stored (replay, 422, 409).
A batch that breaks a unique constraint (a retry whose first answer got lost, an id already
taken) is rolled back; the reports already stored are left out and the rest go in together.
A batch still refused (a value the database will not store, a race with another writer) is
written one transaction per report, so each gets its own answer. When the database is out of
reach every report of the batch is answered 503 and nothing is stored.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.reports import repository
from shared.db import out_of_reach
from shared.errors import ServiceUnavailable

log = logging.getLogger("wangge.intake.writer")


@dataclass(frozen=True)
class NewReport:
    """The rows one new report writes, and the photos it names, which wait no more."""

    report: dict[str, Any]
    record: dict[str, Any]
    message: dict[str, Any]
    photo_ids: Sequence[uuid.UUID] = ()


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
        outcomes: list[bool | BaseException] = [False] * len(batch)  # False: the key or id is taken
        fresh = _first_of_each(batch)  # a key or id twice in one batch: the first goes in
        failure = await self._try_insert([batch[i] for i in fresh])
        if isinstance(failure, IntegrityError) and len(fresh) > 1:
            # Retries whose first answer got lost: leave out what is stored, the rest go in together.
            try:
                stored = await self._stored(batch, fresh)
            except Exception as exc:
                stored, failure = set(), exc
            if stored:
                fresh = [i for i in fresh if i not in stored]
                failure = await self._try_insert([batch[i] for i in fresh])
        if failure is None:
            for i in fresh:
                outcomes[i] = True
        elif out_of_reach(failure):
            log.warning("could not commit %d new reports: %s", len(batch), failure)
            return [_unavailable(failure) for _ in batch]
        elif len(fresh) == 1:
            outcomes[fresh[0]] = await self._answer_alone(failure)
        else:  # a report the database refuses, or a race with another writer: one at a time
            for i in fresh:
                outcomes[i] = await self._commit_one(batch[i])
        if any(outcome is True for outcome in outcomes):
            self._on_commit()
        return outcomes

    async def _try_insert(self, batch: Sequence[NewReport]) -> Exception | None:
        if not batch:
            return None
        try:
            await self._insert(batch)
        except Exception as exc:
            return exc
        return None

    async def _stored(self, batch: Sequence[NewReport], candidates: Sequence[int]) -> set[int]:
        """Which of ``candidates`` have their key or their report id in the database already."""
        async with self.engine.connect() as connection:
            keys = await repository.stored_keys(connection, [_key(batch[i]) for i in candidates])
            ids = await repository.stored_report_ids(connection, [batch[i].report["id"] for i in candidates])
        return {i for i in candidates if _key(batch[i]) in keys or batch[i].report["id"] in ids}

    async def _commit_one(self, rows: NewReport) -> bool | BaseException:
        try:
            await self._insert([rows])
        except Exception as exc:
            if out_of_reach(exc):
                log.warning("could not commit a new report: %s", exc)
                return _unavailable(exc)
            return await self._answer_alone(exc)
        return True

    async def _answer_alone(self, exc: Exception) -> bool | BaseException:
        """The answer to one report whose insert failed while the database is reachable."""
        if isinstance(exc, IntegrityError):
            return False  # its key or id is taken: the caller replays or answers 409
        # Raised to the caller: the error handlers answer 422 for a value the database refuses
        # and log anything else once, with its traceback and the request it broke.
        return exc

    async def _insert(self, batch: Sequence[NewReport]) -> None:
        await repository.insert_reports(
            self.engine,
            reports=[rows.report for rows in batch],
            records=[rows.record for rows in batch],
            messages=[rows.message for rows in batch],
            photo_ids=[rows.photo_ids for rows in batch],
        )


def _key(rows: NewReport) -> tuple[str, str]:
    return rows.record["actor_id"], rows.record["key"]


def _first_of_each(batch: Sequence[NewReport]) -> list[int]:
    """Indexes of the reports whose key and id no earlier report of the batch has."""
    keys: set[tuple[str, str]] = set()
    ids: set[Any] = set()
    first = []
    for i, rows in enumerate(batch):
        if _key(rows) in keys or rows.report["id"] in ids:
            continue
        keys.add(_key(rows))
        ids.add(rows.report["id"])
        first.append(i)
    return first


def _unavailable(exc: Exception) -> ServiceUnavailable:
    error = ServiceUnavailable("the database is out of reach; retry the report")
    error.__cause__ = exc
    return error
