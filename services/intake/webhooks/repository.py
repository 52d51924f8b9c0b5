"""The webhooks' statements."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import Webhook, WebhookMessage
from shared.db import insert_of, one_of


async def get(session: AsyncSession, owner_id: str, *, for_update: bool = False) -> Webhook | None:
    query = select(Webhook).where(Webhook.owner_id == owner_id)
    return await session.scalar(query.with_for_update() if for_update else query)


async def of_owners(session: AsyncSession, owner_ids: Collection[str]) -> Sequence[Webhook]:
    if not owner_ids:
        return []
    dialect = session.get_bind().dialect.name
    return (await session.scalars(select(Webhook).where(one_of(Webhook.owner_id, owner_ids, dialect)))).all()


async def page(session: AsyncSession, *, after: str | None, limit: int) -> Sequence[Webhook]:
    """Webhooks in their owners' order, after ``after``; up to ``limit``."""
    query = select(Webhook).order_by(Webhook.owner_id).limit(limit)
    if after is not None:
        query = query.where(Webhook.owner_id > after)
    return (await session.scalars(query)).all()


async def add_if_absent(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Insert the webhook unless its owner has one (two first PUTs at once: one inserts, the
    other waits for it and inserts nothing); whether this one did."""
    insert = insert_of(session.get_bind().dialect.name)
    statement: Any = (
        insert(cast(Table, Webhook.__table__))
        .values(row)
        .on_conflict_do_nothing(index_elements=["owner_id"])
        .returning(literal_column("1"))
    )
    return (await session.execute(statement)).first() is not None


async def add_messages(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    session.add_all(WebhookMessage(**row) for row in rows)


async def delivery_state(
    session: AsyncSession, owner_id: str, since: datetime
) -> tuple[int, int, str | None]:
    """(pending, dead, the latest failure's error) of the owner's deliveries written ``since``
    (the webhook's creation: a removed one's are not the new one's)."""
    mine = (WebhookMessage.owner_id == owner_id) & (WebhookMessage.created_at >= since)
    pending = WebhookMessage.sent_at.is_(None) & WebhookMessage.dead_at.is_(None)
    counts = (
        await session.execute(
            select(
                func.count().filter(pending),
                func.count().filter(WebhookMessage.dead_at.is_not(None)),
            ).where(mine)
        )
    ).one()
    last_error = await session.scalar(
        select(WebhookMessage.last_error)
        .where(mine, WebhookMessage.last_error.is_not(None))
        .order_by(WebhookMessage.id.desc())
        .limit(1)
    )
    return int(counts[0]), int(counts[1]), last_error


async def give_up(
    session: AsyncSession,
    owner_id: str,
    *,
    now: datetime,
    reason: str,
    written_before: datetime | None = None,
) -> None:
    """Mark dead the owner's undelivered updates (only those written before ``written_before``
    when given), but for those a pass holds now: it marks them itself."""
    conditions = [
        WebhookMessage.owner_id == owner_id,
        WebhookMessage.sent_at.is_(None),
        WebhookMessage.dead_at.is_(None),
        WebhookMessage.lease_until.is_(None) | (WebhookMessage.lease_until < now),
    ]
    if written_before is not None:
        conditions.append(WebhookMessage.created_at < written_before)
    await session.execute(update(WebhookMessage).where(*conditions).values(dead_at=now, last_error=reason))
