"""Transactional outbox and its relay: a message is written in the same transaction as the
change it announces, and a relay delivers it later, so a peer that is down delays work
and never loses it.

The relay claims a batch under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
has one writer), delivers it outside any transaction, then marks each message sent, to
retry with exponential backoff, or dead (a permanent refusal, kept for inspection). Each
claim has a lease of its own: a mark that comes after its lease ran out and the messages
were claimed again (by another relay or another batch of the same one) changes nothing. A
relay that crashes between delivering and marking leaves its lease to expire; the next
claim delivers again, so receivers must be idempotent, and all of ours are. Sent messages are
kept ``keep_sent_days`` for inspection, dead ones ``keep_dead_days``, then deleted by the relay
(hourly).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Index, Integer, Select, String, Text, delete, func, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.db import BigIntPK, JSONType, UTCDateTime, one_of, session_scope, utcnow

log = logging.getLogger("wangge.outbox")

DELIVERY_SHARE_OF_LEASE = 0.8
"""A delivery gives up after this share of its lease: past the lease another relay may claim
the same messages and send them again while the first is still sending."""

PURGE_BATCH = 1000
"""Sent messages deleted per transaction by :meth:`Relay.purge`."""

ENQUEUED = "wangge.outbox.enqueued"

OUTBOX_FILLFACTOR = 50
"""How full PostgreSQL fills an outbox page on insert. A claim rewrites its message (lease
owner and time) and a mark rewrites it again; an update that finds room on its page and
changes no indexed column is HOT: no new index entries. In pages filled to the brim (the
default, 100) 1.2–1.6 % of the updates were HOT; at 50 every claim is (the mark changes
``sent_at``, which the pending index's predicate reads, and is never HOT). Measured under
load in the bench's services: intake's outbox took 2.6 KB a message where it had taken 3.8,
since a page's old versions are pruned in place."""


class OutboxMixin:
    """Columns of an ``outbox`` table; each service declares ``class OutboxMessage(OutboxMixin, Base)``
    (another outbox of the same service sets its own ``__tablename__``)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        # Only the messages still to send, in claim order: it stays as small as the backlog
        # however many sent messages the table keeps.
        pending = "sent_at IS NULL AND dead_at IS NULL"
        # Only the dead ones, by when they died: what an operator counts and lists (``wangge
        # outbox``, ``/metrics``) and the hourly purge deletes, without reading the week of
        # sent messages. A claim changes no column of either, so it stays a HOT update.
        dead = "dead_at IS NOT NULL"
        table = cls.__tablename__
        return (
            Index(f"ix_{table}_pending", "id", postgresql_where=text(pending), sqlite_where=text(pending)),
            Index(f"ix_{table}_dead", "dead_at", postgresql_where=text(dead), sqlite_where=text(dead)),
            {"postgresql_with": {"fillfactor": OUTBOX_FILLFACTOR}},
        )


class Outcome(StrEnum):
    sent = "sent"
    retry = "retry"
    dead = "dead"


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    error: str | None = None
    delay: float | None = None
    """Seconds before a retry; None: the relay's backoff from the message's attempts."""


CLAIMED = ("id", "topic", "key", "payload", "attempts")
"""The columns of a claimed message: what delivering and marking it read."""


@dataclass(frozen=True)
class Claim:
    """A batch leased to one claim: ``lease`` is its own mark in ``lease_owner``."""

    lease: str
    messages: list[Any]


Deliver = Callable[[Sequence[Any]], Awaitable[dict[int, Delivery]]]
"""Delivers claimed messages; returns an outcome per message id (a missing id is retried)."""


def enqueue(session: AsyncSession, model: type[Any], topic: str, key: str, payload: dict[str, Any]) -> None:
    """Add a message to the caller's transaction: it is sent only if that transaction commits."""
    session.add(model(topic=topic, key=key, payload=payload, attempts=0))
    mark_enqueued(session, model)


def mark_enqueued(session: AsyncSession, model: type[Any]) -> None:
    """Note that the session's transaction wrote to ``model``'s outbox (rows inserted another way)."""
    session.info.setdefault(ENQUEUED, set()).add(model)


def enqueued(session: AsyncSession) -> set[type[Any]]:
    """The outboxes the session's transaction wrote to, and forget them (to wake their relays
    after commit)."""
    models: set[type[Any]] = session.info.pop(ENQUEUED, set())
    return models


def claimable(table: Any, now: datetime) -> list[ColumnElement[bool]]:
    """A message a claim may take: not sent, not dead, due, and under no lease still running."""
    return [
        table.c.sent_at.is_(None),
        table.c.dead_at.is_(None),
        table.c.available_at <= now,
        (table.c.lease_until.is_(None)) | (table.c.lease_until < now),
    ]


def backoff(attempts: int, *, base: float = 0.5, cap: float = 60.0) -> float:
    """Seconds before the next try: doubling from ``base``, capped, with full jitter in its upper half."""
    # Past 64 doublings any base is beyond any cap; 2 ** 1024 would not even fit a float.
    delay = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 64))
    return delay * random.uniform(0.5, 1.0)


class Relay:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        model: type[Any],
        deliver: Deliver,
        *,
        name: str,
        batch_size: int = 100,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        concurrency: int = 1,
        keep_sent_days: float = 7.0,
        keep_dead_days: float = 90.0,
        purge_every_seconds: float = 3600.0,
    ) -> None:
        self.session_maker = session_maker
        self.model = model
        self.deliver = deliver
        self.owner = f"{name}-{uuid.uuid4().hex[:8]}"
        self._claims = itertools.count(1)
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.concurrency = concurrency
        self.keep_sent = timedelta(days=keep_sent_days)
        self.keep_dead = timedelta(days=keep_dead_days)
        self.purge_every_seconds = purge_every_seconds
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()

    def stop(self) -> None:
        """Finish the batches in flight, then return from :meth:`run_forever`."""
        self._stopped.set()
        self._wake.set()

    def wake(self) -> None:
        """Deliver now instead of at the next poll (called after a commit that enqueued)."""
        self._wake.set()

    async def claim(self) -> Claim:
        """Lease up to ``batch_size`` due messages, oldest first, in one statement, under a
        lease of their own (``<owner>/<n>``), so only this claim's mark can change them.

        ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …`` on PostgreSQL
        (walking the partial index of pending messages in id order),
        so two relays (or two batches of one) never claim the same message; SQLite has one
        writer at a time and ignores the locking clause. The rows come back as Core rows of
        the ``CLAIMED`` columns (reading every column cost a result processor per time column).
        """
        table = self.model.__table__
        now = utcnow()
        lease = f"{self.owner}/{next(self._claims)}"
        # Chosen once (a CTE, materialized): an IN over the subquery itself let PostgreSQL run it
        # again per row beside the re-check below, and a claim took more than its batch.
        due = self.due(now).cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
        async with session_scope(self.session_maker) as session:
            if session.get_bind().dialect.name == "postgresql":
                # The pending index keeps an entry for every message sent since the last vacuum.
                # A bitmap scan (the planner's choice on fresh statistics) reads them all and
                # marks none dead: 10–70 ms a claim with 35,000–120,000 messages sent. An
                # index scan in id order stops at the batch's last message and marks the dead
                # entries it passes, so the next claims skip them: 3–4 ms at 120,000–180,000.
                await session.execute(text("SET LOCAL enable_bitmapscan = off"))
            rows = (
                await session.execute(
                    update(table)
                    # claimable again: a claim that waited on another's locks skips what it took
                    .where(table.c.id.in_(select(due.c.id)), *claimable(table, now))
                    .values(lease_owner=lease, lease_until=now + self.lease)
                    .returning(*(table.c[name] for name in CLAIMED))
                )
            ).all()
        return Claim(lease, sorted(rows, key=lambda row: row.id))

    def due(self, now: datetime) -> Select[Any]:
        """The ids a claim takes: the oldest claimable messages, skipping those another claim
        holds locked (a subclass may choose otherwise)."""
        table = self.model.__table__
        return (
            select(table.c.id)
            .where(*claimable(table, now))
            .order_by(table.c.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )

    async def run_once(self) -> int:
        """Claim, deliver and mark one batch; returns how many messages were claimed.

        A delivery (a batch may take several requests) that outlasts ``DELIVERY_SHARE_OF_LEASE``
        of the lease, counted from the claim, is cut short and its whole batch retried, as
        after any failure: the messages a request already delivered come again and are
        answered ``duplicate``, and a request cut off may still be taken by the peer (a retry
        that meets it there is refused until it is done, and retried in turn)."""
        claimed_at = asyncio.get_running_loop().time()  # the lease runs from the claim, not after it
        claim = await self.claim()
        messages = claim.messages
        if not messages:
            return 0
        budget = asyncio.timeout_at(claimed_at + self.lease.total_seconds() * DELIVERY_SHARE_OF_LEASE)
        try:
            async with budget:
                outcomes = await self.deliver(messages)
        except Exception as exc:  # the peer, the network or the budget: every message waits and retries
            error = str(exc) or type(exc).__name__
            if budget.expired():
                lease = self.lease.total_seconds()
                error = f"delivery took longer than {DELIVERY_SHARE_OF_LEASE:.0%} of the {lease:g} s lease"
            log.warning("%s: delivery of %d messages failed: %s", claim.lease, len(messages), error)
            outcomes = {m.id: Delivery(Outcome.retry, error) for m in messages}
        await self._mark(claim, outcomes)
        return len(messages)

    async def _mark(self, claim: Claim, outcomes: dict[int, Delivery]) -> None:
        """Record each message's outcome, where the message is still under ``claim``'s lease."""
        model = self.model
        now = utcnow()
        messages = claim.messages
        sent = [m.id for m in messages if outcomes.get(m.id, Delivery(Outcome.retry)).outcome is Outcome.sent]
        mine = (model.lease_owner == claim.lease,)
        async with session_scope(self.session_maker) as session:
            if sent:
                await session.execute(
                    update(model)
                    .where(one_of(model.id, sent, session.get_bind().dialect.name), *mine)
                    .values(sent_at=now, lease_owner=None, lease_until=None, last_error=None)
                )
            for message in messages:
                result = outcomes.get(message.id, Delivery(Outcome.retry, "no answer for this message"))
                if result.outcome is Outcome.sent:
                    continue
                attempts = message.attempts + 1
                values: dict[str, Any] = {
                    "attempts": attempts,
                    "last_error": (result.error or "")[:2000],
                    "lease_owner": None,
                    "lease_until": None,
                }
                if result.outcome is Outcome.dead:
                    values["dead_at"] = now
                    log.error("%s: message %s is dead: %s", claim.lease, message.id, result.error)
                else:
                    delay = result.delay
                    if delay is None:
                        delay = backoff(attempts, cap=self.max_backoff_seconds)
                    values["available_at"] = now + timedelta(seconds=delay)
                await session.execute(update(model).where(model.id == message.id, *mine).values(**values))

    async def drain(self, *, max_batches: int = 1000) -> int:
        """Deliver until nothing is due (tests and shutdown); returns the messages claimed."""
        total = 0
        for _ in range(max_batches):
            claimed = await self.run_once()
            if not claimed:
                break
            total += claimed
        return total

    async def purge(self, *, now: datetime | None = None) -> int:
        """Delete the messages sent longer than ``keep_sent_days`` ago and those dead longer
        than ``keep_dead_days``, oldest first, a batch per transaction; pending messages stay.
        Returns how many were deleted."""
        table = self.model.__table__
        now = now or utcnow()
        deleted = 0
        for column, cutoff in (
            (table.c.sent_at, now - self.keep_sent),
            (table.c.dead_at, now - self.keep_dead),
        ):
            while True:
                oldest = select(table.c.id).where(column < cutoff).order_by(table.c.id).limit(PURGE_BATCH)
                async with session_scope(self.session_maker) as session:
                    result = cast(
                        CursorResult[Any], await session.execute(delete(table).where(table.c.id.in_(oldest)))
                    )
                deleted += result.rowcount
                if result.rowcount < PURGE_BATCH:
                    break
        return deleted

    async def run_forever(self) -> None:
        """Deliver until cancelled, with ``concurrency`` batches in flight: while one batch waits
        for the peer's answer, the next is claimed and sent (leases keep them apart); and purge
        the sent messages past keeping every ``purge_every_seconds``."""
        await asyncio.gather(
            *(self._deliver_forever() for _ in range(self.concurrency)), self._purge_forever()
        )

    async def _purge_forever(self) -> None:
        while not self._stopped.is_set():
            try:
                purged = await self.purge()
                if purged:
                    log.info(
                        "%s: deleted %d messages sent before the last %s or dead before the last %s",
                        self.owner,
                        purged,
                        self.keep_sent,
                        self.keep_dead,
                    )
            except Exception:
                log.exception("%s: purging sent messages failed", self.owner)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.purge_every_seconds):
                    await self._stopped.wait()

    async def _deliver_forever(self) -> None:
        while not self._stopped.is_set():
            # Cleared before the pass, so a wake that arrives during it starts the next one at once.
            self._wake.clear()
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("%s: relay pass failed", self.owner)
                claimed = 0
            if claimed >= self.batch_size or self._stopped.is_set():
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that lands as the wake arrives, and the relay would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()


async def pending_count(session: AsyncSession, model: type[Any]) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(model).where(model.sent_at.is_(None), model.dead_at.is_(None))
        )
        or 0
    )
