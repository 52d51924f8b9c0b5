"""The inbox's statements: a whole batch in a constant number of round trips.

One SELECT of the reports a batch names, one multi-row INSERT of the new events (a pair
stored already, or concurrently, is skipped by ON CONFLICT DO NOTHING; RETURNING names the
pairs this call stored), and one executemany UPDATE of the reports whose newest event moved.
The UPDATE only moves a report forward (``last_event_id`` below the event's), so concurrent
or out-of-order deliveries can never move a report's view back.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import Report, ReportEvent
from shared.db import padded, power_of_two_chunks

_reports = cast(Table, Report.__table__)
_events = cast(Table, ReportEvent.__table__)

_MOVE_VIEW = (
    update(_reports)
    .where(
        _reports.c.id == bindparam("b_id"),
        or_(_reports.c.last_event_id.is_(None), _reports.c.last_event_id < bindparam("last_event_id")),
    )
    .values(
        {
            name: bindparam(name)
            for name in (
                "status",
                "case_id",
                "case_number",
                "department_code",
                "department_name",
                "deadline_at",
                "last_event_id",
                "updated_at",
            )
        }
    )
)
"""Moves one report's view to a newer event; a no-op when it already shows a newer one."""


async def known_report_ids(session: AsyncSession, report_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    if not report_ids:
        return set()
    rows = await session.scalars(select(Report.id).where(Report.id.in_(padded(report_ids))))
    return set(rows.all())


def _insert_events(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
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
    """Apply each report's newest event to its view (``b_id`` names the report)."""
    if rows:
        connection = await session.connection()
        await connection.execute(_MOVE_VIEW, list(rows))
