"""Queries over reports, their updates and idempotency records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import IdempotencyRecord, Report, ReportEvent


async def idempotency_record(session: AsyncSession, *, actor_id: str, key: str) -> IdempotencyRecord | None:
    return await session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.actor_id == actor_id, IdempotencyRecord.key == key)
    )


async def events_of(session: AsyncSession, report_id: uuid.UUID) -> Sequence[ReportEvent]:
    return (
        await session.scalars(
            select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.event_id)
        )
    ).all()


async def reports_of(
    session: AsyncSession,
    *,
    reporter_id: str,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> Sequence[Report]:
    """The reporter's reports, newest first, strictly after the ``before`` position."""
    query = select(Report).where(Report.reporter_id == reporter_id)
    if before is not None:
        received_at, report_id = before
        query = query.where(
            or_(
                Report.received_at < received_at,
                and_(Report.received_at == received_at, Report.id < report_id),
            )
        )
    query = query.order_by(Report.received_at.desc(), Report.id.desc()).limit(limit)
    return (await session.scalars(query)).all()
