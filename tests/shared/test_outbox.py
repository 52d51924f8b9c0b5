"""The relay's marks, where the intake and dispatch relay tests do not reach: a message retried
for a very long time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from services.dispatch.models import Base, OutboxMessage
from shared.db import create_engine, create_session_maker, session_scope
from shared.outbox import Delivery, Outcome, Relay, backoff


def test_backoff_stays_at_its_cap_however_many_attempts() -> None:
    assert [backoff(n, cap=60) <= 60 for n in (1, 10, 1024, 1025, 10**6)] == [True] * 5
    assert backoff(10**6, cap=60) >= 30  # full jitter in the cap's upper half


async def test_a_message_retried_past_1024_attempts_is_marked_with_its_batch(tmp_path: Path) -> None:
    """2 ** 1024 overflowed a float in the backoff (13 hours of an outage at the 60 s cap), and the
    failed mark rolled back the whole batch's, the messages the peer took included."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/outbox.db")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = create_session_maker(engine)
    async with session_scope(sessions) as session:
        session.add(OutboxMessage(topic="t", key="old", payload={}, attempts=1024))
        session.add(OutboxMessage(topic="t", key="taken", payload={}, attempts=0))

    async def deliver(messages: Any) -> dict[int, Delivery]:
        return {m.id: Delivery(Outcome.sent if m.key == "taken" else Outcome.retry, "503") for m in messages}

    try:
        assert await Relay(sessions, OutboxMessage, deliver, name="t").run_once() == 2
        async with session_scope(sessions) as session:
            rows = {m.key: m for m in (await session.scalars(select(OutboxMessage))).all()}
        assert rows["taken"].sent_at is not None
        assert (rows["old"].attempts, rows["old"].lease_owner, rows["old"].last_error) == (1025, None, "503")
    finally:
        await engine.dispose()
