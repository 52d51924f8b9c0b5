"""The inbox's queries and bulk writes: a whole batch in a handful of round trips."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Date,
    Float,
    Select,
    String,
    Table,
    and_,
    bindparam,
    column,
    func,
    insert,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.cases.lifecycle import FINISHED
from services.dispatch.models import Case, CaseEvent, CaseNumberCounter, CaseReport, OutboxMessage, seen_day
from shared.db import RowUpdate, UTCDateTime, insert_of, one_of, padded, power_of_two_chunks
from shared.outbox import mark_enqueued


@dataclass(frozen=True)
class Area:
    """Where a report looks for an open case to join: its category, a time window, a lat/lon
    box, and the report's own point (the box's centre)."""

    category: str
    seen_from: datetime
    seen_to: datetime
    lat_range: tuple[float, float]
    lon_range: tuple[float, float]
    lat: float
    lon: float


@dataclass(frozen=True)
class NearbyReport:
    case_id: int
    category: str | None
    seen_at: datetime
    lat: float
    lon: float


async def open_reports_in(session: AsyncSession, areas: Sequence[Area]) -> list[NearbyReport]:
    """Reports on cases still open that lie in any of ``areas`` (one query for a whole batch).

    On PostgreSQL, of each open case only the report nearest to each area's point (one for
    each UTC day the area's window touches): the case's nearest report is all that deciding a
    merge reads (:func:`~services.dispatch.inbox.merging.nearest_case`),
    and a much-reported problem has dozens of reports in one box. Elsewhere every report in
    the areas (SQLite serves one office's small load).
    """
    if not areas:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return await _nearest_open_reports(session, areas)
    # a few statement shapes, each built once: neither building, compiling nor the driver's
    # prepared statements cost per batch
    shaped = padded(areas)
    params: dict[str, Any] = {}
    for i, area in enumerate(shaped):
        params |= {f"c{i}": area.category, f"s{i}": area.seen_from, f"e{i}": area.seen_to}
        params |= {f"a{i}": area.lat_range[0], f"b{i}": area.lat_range[1]}
        params |= {f"o{i}": area.lon_range[0], f"p{i}": area.lon_range[1]}
    rows = (await session.execute(_open_reports_query(len(shaped)), params)).all()
    return [
        NearbyReport(case_id, category, seen_at, lat, lon) for case_id, category, seen_at, lat, lon in rows
    ]


@functools.cache
def _open_reports_query(size: int) -> Select[int, str | None, datetime, float, float]:
    def area(i: int) -> ColumnElement[bool]:
        return and_(
            CaseReport.category == bindparam(f"c{i}"),
            CaseReport.seen_at.between(bindparam(f"s{i}"), bindparam(f"e{i}")),
            CaseReport.lat.between(bindparam(f"a{i}"), bindparam(f"b{i}")),
            CaseReport.lon.between(bindparam(f"o{i}"), bindparam(f"p{i}")),
        )

    return (
        select(CaseReport.case_id, CaseReport.category, CaseReport.seen_at, CaseReport.lat, CaseReport.lon)
        .join(Case, Case.id == CaseReport.case_id)
        .where(or_(*(area(i) for i in range(size))), Case.status.not_in([s.value for s in FINISHED]))
        .order_by(CaseReport.case_id)
    )


_AREA_COLUMNS: dict[str, Any] = {
    "category": String(),
    "day": Date(),
    "seen_from": UTCDateTime(),
    "seen_to": UTCDateTime(),
    "lat_min": Float(),
    "lat_max": Float(),
    "lon_min": Float(),
    "lon_max": Float(),
    "lat": Float(),
    "lon": Float(),
}


async def _nearest_open_reports(session: AsyncSession, areas: Sequence[Area]) -> list[NearbyReport]:
    # one array per column of ``_AREA_COLUMNS``, in its order: a row per area and UTC day its
    # window touches (one index scan each, bounded by the day: ``ix_case_reports_nearby_day``)
    values = [
        (a.category, day, a.seen_from, a.seen_to, *a.lat_range, *a.lon_range, a.lat, a.lon)
        for a in areas
        for day in utc_days(a.seen_from, a.seen_to)
    ]
    columns = zip(*values, strict=True)
    arrays = {f"a_{name}": list(column) for name, column in zip(_AREA_COLUMNS, columns, strict=True)}
    rows = (await session.execute(_NEAREST_OPEN_REPORTS, arrays)).all()
    # a report near several of the batch's reports comes once per area (and day)
    return list(dict.fromkeys(NearbyReport(*row) for row in rows))


def utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days from ``start`` to ``end``, both included."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _nearest_open_reports_query() -> Select[int, str | None, datetime, float, float]:
    """Per area and UTC day (a row of ``unnest``) and open case, the case's report nearest
    the area's point; one statement shape for every batch size.

    A lateral subquery per area: the planner sees each area's own bounds as the parameters
    of one index scan. (Joined to ``unnest`` instead, it could not see how small the boxes
    are, and for its first, custom plans read all of ``case_reports``: 14 against 4 ms at
    28,000 reports, 84 against 1.6 ms at 300,000.) The day is an equality, so that it always
    bounds the scan: as an array of the window's days, the planner on small tables checked it
    in every row of the category instead.
    """
    area = (
        func.unnest(*(bindparam(f"a_{name}", type_=ARRAY(kind)) for name, kind in _AREA_COLUMNS.items()))
        .table_valued(*(column(name, kind) for name, kind in _AREA_COLUMNS.items()), with_ordinality="i")
        .render_derived(name="area")
    )
    report = CaseReport.__table__.c
    nearest = (
        select(report.case_id, report.category, report.seen_at, report.lat, report.lon)
        .where(
            report.category == area.c.category,
            seen_day(report.seen_at) == area.c.day,
            report.lat.between(area.c.lat_min, area.c.lat_max),
            report.lon.between(area.c.lon_min, area.c.lon_max),
            report.seen_at.between(area.c.seen_from, area.c.seen_to),
        )
        .ext(postgresql.distinct_on(report.case_id))
        .order_by(report.case_id, _haversine_term(area.c.lat, area.c.lon, report.lat, report.lon))
        .lateral("nearest")
    )
    # the cases' status once per case found, not once per report in the box
    return (
        select(nearest.c.case_id, nearest.c.category, nearest.c.seen_at, nearest.c.lat, nearest.c.lon)
        .select_from(area)
        .join(nearest, true())
        .join(Case, Case.id == nearest.c.case_id)
        .where(Case.status.not_in([s.value for s in FINISHED]))
    )


def _haversine_term(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> ColumnElement[float]:
    """The haversine of the central angle between two points, in SQL: ``haversine_m``'s ``a``
    computed the same way, which grows with the distance (so it orders by distance without
    the arc sine)."""
    dlat, dlon = func.radians(lat2) - func.radians(lat1), func.radians(lon2 - lon1)
    cosines = func.cos(func.radians(lat1)) * func.cos(func.radians(lat2))
    # ``* 0.5`` for ``/ 2``, which would compute in NUMERIC; power() is Python's ``** 2``
    term = func.power(func.sin(dlat * 0.5), 2.0) + cosines * func.power(func.sin(dlon * 0.5), 2.0)
    return cast(ColumnElement[float], term)


_NEAREST_OPEN_REPORTS = _nearest_open_reports_query()


PLACEMENT_LOCK = 0x77616E67  # "wang"


async def serialize_placement(session: AsyncSession) -> None:
    """One batch places reports at a time: two batches deciding at once could each open a case
    for the same problem, neither seeing the other's. PostgreSQL: a transaction-scoped advisory
    lock; SQLite already has a single writer."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLACEMENT_LOCK})


async def lock_cases(session: AsyncSession, ids: Sequence[int]) -> list[Case]:
    """The cases, locked in id order (``FOR UPDATE`` on PostgreSQL) and freshly read."""
    if not ids:
        return []
    query = (
        select(Case)
        .where(one_of(Case.id, sorted(set(ids)), session.get_bind().dialect.name))
        .order_by(Case.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(query)).all())


_JOIN_CASES = RowUpdate(cast(Table, Case.__table__), "id", ("report_count", "version", "updated_at"))


async def store_joined(session: AsyncSession, cases: Sequence[Case]) -> None:
    """Store the counts and versions of the open cases reports joined, in one statement on
    PostgreSQL, and let the session forget those cases (its flush would write them again, one
    UPDATE per case)."""
    rows = [
        {"id": c.id, "report_count": c.report_count, "version": c.version, "updated_at": c.updated_at}
        for c in cases
    ]
    await _JOIN_CASES.execute(await session.connection(), rows)
    for case in cases:
        session.expunge(case)


async def draw_case_numbers(session: AsyncSession, stamp: str, count: int) -> list[int]:
    """Draw ``count`` consecutive numbers of day ``stamp`` with one atomic upsert."""
    if count <= 0:
        return []
    upsert = insert_of(session.get_bind().dialect.name)
    statement = (
        upsert(CaseNumberCounter)
        .values(day=stamp, last=count)
        .on_conflict_do_update(
            index_elements=[CaseNumberCounter.day], set_={"last": CaseNumberCounter.last + count}
        )
        .returning(CaseNumberCounter.last)
    )
    last = (await session.execute(statement)).scalar_one()
    return list(range(last - count + 1, last + 1))


async def insert_returning_ids(
    session: AsyncSession, model: type[Case] | type[CaseEvent], rows: list[dict[str, Any]]
) -> list[int]:
    """Insert ``rows`` in multi-row statements; their ids, in the rows' order."""
    if not rows:
        return []
    table = cast(Table, model.__table__)  # Core, not the ORM's bulk path: no objects needed
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for chunk in power_of_two_chunks(rows):  # a few statement shapes, each prepared once
        ids += (await session.scalars(statement, list(chunk))).all()
    return ids


async def insert_rows(
    session: AsyncSession, model: type[CaseReport] | type[OutboxMessage], rows: list[dict[str, Any]]
) -> None:
    if rows:
        await session.execute(insert(cast(Table, model.__table__)), rows)
    if rows and model is OutboxMessage:
        mark_enqueued(session, OutboxMessage)  # as shared.outbox.enqueue does: wake the relay after commit
