"""The inbox's statements: a whole batch in a constant number of round trips.

One SELECT of the reports a batch names, one multi-row INSERT of the new events (a pair
stored already, or concurrently, is skipped by ON CONFLICT DO NOTHING; RETURNING names the
pairs this call stored), and one UPDATE of the reports whose newest event moved
(``shared.db.RowUpdate``). The UPDATE only moves a report forward (``last_event_id`` below
the event's), so concurrent or out-of-order deliveries can never move a report's view back.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import Report, ReportEvent
from shared.db import RowUpdate, insert_of, one_of, power_of_two_chunks

_reports = cast(Table, Report.__table__)
_events = cast(Table, ReportEvent.__table__)

_MOVE_VIEWS = RowUpdate(
    _reports,
    "id",
    (
        "status",
        "case_id",
        "case_number",
        "department_code",
        "department_name",
        "deadline_at",
        "last_event_id",
        "updated_at",
    ),
    where=lambda report, new: or_(report.last_event_id.is_(None), report.last_event_id < new.last_event_id),
)
"""Moves reports' views to newer events (one statement on PostgreSQL); a no-op for a report
that shows a newer one already."""


async def reporters_of(session: AsyncSession, report_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The reporter of each report intake knows among ``report_ids``."""
    if not report_ids:
        return {}
    dialect = session.get_bind().dialect.name
    rows = await session.execute(
        select(Report.id, Report.reporter_id).where(one_of(Report.id, report_ids, dialect))
    )
    return {report_id: reporter_id for report_id, reporter_id in rows}


def _insert_events(dialect: str) -> Any:
    insert = insert_of(dialect)
    return (
        insert(_events)
        .on_conflict_do_nothing(index_elements=[_events.c.report_id, _events.c.event_id])
        .returning(_events.c.report_id, _events.c.event_id)
    )


_INSERT_EVENTS = {name: _insert_events(name) for name in ("postgresql", "sqlite")}
"""Per dialect, built once so its cache key is computed once."""


async def insert_events(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> set[tuple[uuid.UUID, int]]:
    """Store the events not stored yet (multi-row INSERTs); the (report_id, event_id) pairs it stored."""
    if not rows:
        return set()
    connection = await session.connection()
    statement = _INSERT_EVENTS[connection.dialect.name]
    stored: set[tuple[uuid.UUID, int]] = set()
    for chunk in power_of_two_chunks(rows):  # a few statement shapes, each prepared once
        result = await connection.execute(statement, list(chunk))
        stored.update((report_id, event_id) for report_id, event_id in result)
    return stored


async def move_views(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Apply each report's newest event to its view (``id`` names the report, once)."""
    if rows:
        await _MOVE_VIEWS.execute(await session.connection(), rows)
