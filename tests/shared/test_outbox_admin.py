"""An outbox as an operator reads it, and dead messages put back: claimed and delivered as new
ones, while a relay's claims in flight are left alone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.models import Base, OutboxMessage
from shared import outbox_admin
from shared.db import create_engine, create_session_maker, session_scope, utcnow
from shared.outbox import Delivery, Outcome, Relay
from tests.conftest import CleanDatabase


@pytest.fixture
async def sessions(clean_database: CleanDatabase) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(await clean_database("outbox_admin", Base.metadata))
    yield create_session_maker(engine)
    await engine.dispose()


async def write(sessions: async_sessionmaker[AsyncSession], **columns: Any) -> int:
    async with session_scope(sessions) as session:
        message = OutboxMessage(topic="case.status_changed", payload={}, **{"attempts": 0, **columns})
        session.add(message)
        await session.flush()
        return message.id


async def rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, OutboxMessage]:
    async with session_scope(sessions) as session:
        return {m.key: m for m in (await session.scalars(select(OutboxMessage))).all()}


async def test_the_backlog_counts_what_waits_since_when_what_failed_and_the_dead(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with session_scope(sessions) as session:
        empty = await outbox_admin.backlog(session, OutboxMessage)
    assert empty == outbox_admin.Backlog(pending=0, oldest_pending_at=None, retrying=0, dead=0)
    assert empty.oldest_pending_seconds(now) == 0

    await write(sessions, key="sent", sent_at=now, created_at=now - timedelta(hours=2))
    await write(sessions, key="new", created_at=now)
    await write(sessions, key="failing", attempts=3, created_at=now - timedelta(minutes=5))
    for n in range(2):
        await write(sessions, key=f"dead{n}", attempts=1, dead_at=now, created_at=now - timedelta(days=1))

    async with session_scope(sessions) as session:
        backlog = await outbox_admin.backlog(session, OutboxMessage)
        listed = await outbox_admin.dead_messages(session, OutboxMessage, limit=1)
    assert (backlog.pending, backlog.retrying, backlog.dead) == (2, 1, 2)
    assert backlog.oldest_pending_at == now - timedelta(minutes=5)
    assert backlog.oldest_pending_seconds(now + timedelta(seconds=1)) == 301
    assert [m.key for m in listed] == ["dead1"]  # the latest to die (the same instant: the last written)


async def test_a_message_put_back_is_claimed_at_once_and_delivered(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Whatever the dead row holds (a retry due in an hour, many attempts, a lease, as a row
    written by hand might), put back it is a new message to the relay."""
    now = utcnow()
    dead = await write(
        sessions,
        key="refused",
        attempts=7,
        dead_at=now,
        last_error="intake rejected it",
        available_at=now + timedelta(hours=1),
        lease_owner="dispatch-to-intake-1234/9",
        lease_until=now + timedelta(hours=1),
    )
    delivered: list[str] = []

    async def deliver(messages: Sequence[Any]) -> dict[int, Delivery]:
        delivered.extend(m.key for m in messages)
        return {m.id: Delivery(Outcome.sent) for m in messages}

    relay = Relay(sessions, OutboxMessage, deliver, name="dispatch-to-intake")
    assert await relay.run_once() == 0  # dead: no relay takes it

    async with session_scope(sessions) as session:
        done = await outbox_admin.put_back(session, OutboxMessage, ids=[dead])
    assert (done.ids, done.not_dead) == ([dead], {})
    message = (await rows(sessions))["refused"]
    assert (message.dead_at, message.attempts, message.lease_owner, message.lease_until) == (
        None,
        0,
        None,
        None,
    )
    assert message.last_error == "intake rejected it"  # until the relay marks it again

    assert await relay.run_once() == 1
    assert delivered == ["refused"]
    assert (await rows(sessions))["refused"].sent_at is not None


async def test_putting_every_dead_message_back_leaves_a_claim_in_flight_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """``retry --all`` while the relay is sending a batch: only the dead message comes back; the
    batch in flight keeps its lease, is marked by its own claim and sent once."""
    now = utcnow()
    dead = await write(sessions, key="dead", attempts=1, dead_at=now)
    sent = await write(sessions, key="sent", sent_at=now)
    flying = await write(sessions, key="flying")
    delivered: list[str] = []
    put_back: list[outbox_admin.PutBack] = []

    async def deliver(messages: Sequence[Any]) -> dict[int, Delivery]:
        delivered.extend(m.key for m in messages)
        if not put_back:  # the operator, while this batch is at the peer
            async with session_scope(sessions) as session:
                put_back.append(await outbox_admin.put_back(session, OutboxMessage, ids=None))
        return {m.id: Delivery(Outcome.sent) for m in messages}

    relay = Relay(sessions, OutboxMessage, deliver, name="dispatch-to-intake")
    assert await relay.run_once() == 1
    assert [p.ids for p in put_back] == [[dead]]
    assert (await rows(sessions))["flying"].sent_at is not None

    assert await relay.drain() == 1
    assert delivered == ["flying", "dead"]
    assert all(m.sent_at is not None for m in (await rows(sessions)).values())

    async with session_scope(sessions) as session:
        again = await outbox_admin.put_back(session, OutboxMessage, ids=[dead, sent, flying, 10**6])
    assert again.ids == []
    assert again.not_dead == {dead: "sent", sent: "sent", flying: "sent", 10**6: "unknown"}
