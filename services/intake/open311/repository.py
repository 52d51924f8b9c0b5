"""The Open311 requests' queries: a reporter's reports by id, service, period and status."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import Report, ReportEvent


async def requests_of(
    session: AsyncSession,
    *,
    reporter_id: str,
    ids: Sequence[uuid.UUID],
    categories: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    closed: bool | None,
    closed_statuses: Collection[str],
    limit: int,
) -> Sequence[Report]:
    """Newest first, on the (reporter, received) index."""
    query = select(Report).where(Report.reporter_id == reporter_id)
    if ids:
        query = query.where(Report.id.in_(ids))
    if categories:
        query = query.where(Report.category.in_(categories))
    if start is not None:
        query = query.where(Report.received_at >= start)
    if end is not None:
        query = query.where(Report.received_at <= end)
    if closed is not None:
        finished = Report.status.in_(closed_statuses)
        query = query.where(finished if closed else ~finished)
    query = query.order_by(Report.received_at.desc(), Report.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def latest_notes(session: AsyncSession, report_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The note of each report's latest update (by dispatch's event order)."""
    if not report_ids:
        return {}
    latest = (
        select(ReportEvent.report_id, func.max(ReportEvent.event_id).label("event_id"))
        .where(ReportEvent.report_id.in_(report_ids))
        .group_by(ReportEvent.report_id)
        .subquery()
    )
    query = select(ReportEvent.report_id, ReportEvent.note).join(
        latest,
        (ReportEvent.report_id == latest.c.report_id) & (ReportEvent.event_id == latest.c.event_id),
    )
    return {row.report_id: row.note for row in await session.execute(query)}
