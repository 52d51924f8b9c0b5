"""What an operator reads of an outbox and does to it (``wangge outbox``, ``/metrics``): its
backlog, its dead messages, and putting dead messages back to be delivered.

A reading is one statement over the outbox's two partial indexes (the messages still to send,
the dead ones), never over the week of sent messages the table keeps.

Putting back is one ``UPDATE`` of the messages that are dead when it runs, safe while the
relays run: a claim takes only messages that are not dead, and a relay marks only those its
own claim holds, so a relay and a put-back never change the same row. A dead message comes
back as a new one would be written: due now, no attempts, no lease. It keeps when it was
written (its pending age counts from then) and its ``last_error`` until the relay marks it again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import one_of, utcnow

DEAD_LIST_MAX = 1000
"""The most dead messages one listing returns."""


@dataclass(frozen=True)
class Backlog:
    pending: int
    """Messages not yet delivered nor dead: waiting for the relay, or for their retry."""
    oldest_pending_at: datetime | None
    """When the oldest of them was written (None: nothing pending)."""
    retrying: int
    """Pending messages tried and failed at least once (``attempts`` > 0)."""
    dead: int
    """Refused for good or given up, kept for inspection (``_RELAY_KEEP_DEAD_DAYS``)."""
    newest_dead_at: datetime | None = None
    """When the latest of them died (None: none is dead)."""

    def oldest_pending_seconds(self, now: datetime) -> float:
        """How long the oldest pending message has waited; 0 when none waits."""
        if self.oldest_pending_at is None:
            return 0.0
        return max((now - self.oldest_pending_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class DeadMessage:
    id: int
    topic: str
    key: str
    attempts: int
    created_at: datetime
    dead_at: datetime
    last_error: str | None


@dataclass(frozen=True)
class PutBack:
    """What :func:`put_back` did: the ids put back, and each id asked for that was not dead
    with what it is instead (``pending``, ``sent``, or ``unknown``: never written, or deleted
    after its keeping)."""

    ids: list[int]
    not_dead: dict[int, str]


async def backlog(session: AsyncSession, model: type[Any]) -> Backlog:
    """The outbox's backlog, its dead count and when the latest died, in one statement."""
    table = model.__table__
    pending = select(
        func.count().label("pending"),
        func.min(table.c.created_at).label("oldest"),
        func.count().filter(table.c.attempts > 0).label("retrying"),
    ).where(table.c.sent_at.is_(None), table.c.dead_at.is_(None))
    dead = select(func.count()).select_from(table).where(table.c.dead_at.is_not(None)).scalar_subquery()
    newest_dead = (  # the last entry of the dead messages' partial index
        select(func.max(table.c.dead_at)).where(table.c.dead_at.is_not(None)).scalar_subquery()
    )
    waiting = pending.subquery()
    row = (await session.execute(select(waiting, dead.label("dead"), newest_dead.label("newest_dead")))).one()
    return Backlog(
        pending=int(row.pending),
        oldest_pending_at=row.oldest,
        retrying=int(row.retrying),
        dead=int(row.dead),
        newest_dead_at=row.newest_dead,
    )


async def dead_messages(session: AsyncSession, model: type[Any], *, limit: int) -> list[DeadMessage]:
    """Up to ``limit`` (at most :data:`DEAD_LIST_MAX`) dead messages, the latest to die first."""
    table = model.__table__
    rows = await session.execute(
        select(
            table.c.id,
            table.c.topic,
            table.c.key,
            table.c.attempts,
            table.c.created_at,
            table.c.dead_at,
            table.c.last_error,
        )
        .where(table.c.dead_at.is_not(None))
        .order_by(table.c.dead_at.desc(), table.c.id.desc())
        .limit(min(limit, DEAD_LIST_MAX))
    )
    return [DeadMessage(**row._mapping) for row in rows]


async def put_back(session: AsyncSession, model: type[Any], *, ids: Collection[int] | None) -> PutBack:
    """Put the dead messages ``ids`` (None: every dead message of the outbox) back to be
    delivered; the caller's transaction commits it."""
    table = model.__table__
    dialect = session.get_bind().dialect.name
    dead = [table.c.dead_at.is_not(None)]
    if ids is not None:
        if not ids:
            return PutBack([], {})
        dead.append(one_of(table.c.id, ids, dialect))
    returned = await session.execute(
        update(table)
        .where(*dead)
        .values(dead_at=None, attempts=0, available_at=utcnow(), lease_owner=None, lease_until=None)
        .returning(table.c.id)
    )
    done = sorted(returned.scalars())
    missing = sorted(set(ids or ()) - set(done))
    not_dead = dict.fromkeys(missing, "unknown")
    if missing:
        found = await session.execute(
            select(table.c.id, table.c.sent_at).where(one_of(table.c.id, missing, dialect))
        )
        not_dead |= {row.id: "sent" if row.sent_at is not None else "pending" for row in found}
    return PutBack(done, not_dead)
