"""The queries over cases, their reports and timeline."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.dispatch.cases.lifecycle import HANDLING, Step
from services.dispatch.models import Case, CaseEvent, CaseReport, search_text
from shared.db import one_of


async def get(
    session: AsyncSession,
    case_id: int,
    *,
    for_update: bool = False,
    scope: ColumnElement[bool] | None = None,
) -> Case | None:
    """The case, or None when there is none or it lies outside ``scope`` (the reader's)."""
    query = select(Case).where(Case.id == case_id)
    if scope is not None:
        query = query.where(scope)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(query)).one_or_none()


async def has_report_by(session: AsyncSession, case_id: int, reporter_id: str) -> bool:
    query = select(CaseReport.id).where(CaseReport.case_id == case_id, CaseReport.reporter_id == reporter_id)
    return (await session.scalar(query.limit(1))) is not None


async def report_ids(session: AsyncSession, case_id: int) -> list[uuid.UUID]:
    query = select(CaseReport.report_id).where(CaseReport.case_id == case_id).order_by(CaseReport.id)
    return list((await session.scalars(query)).all())


async def move_reports(
    session: AsyncSession, from_case: int, to_case: int, *, now: datetime
) -> list[uuid.UUID]:
    """Move every report of ``from_case`` to ``to_case``, joining it ``now``; the ids of the
    reports moved."""
    moved = await session.scalars(
        update(CaseReport)
        .where(CaseReport.case_id == from_case)
        .values(case_id=to_case, joined_at=now)
        .returning(CaseReport.report_id)
    )
    return sorted(moved.all())


JOINING_ORDER = (CaseReport.joined_at, CaseReport.id)
"""A case's reports in the order they joined it, the one that opened it first. Not by id
alone: the reports of a case rejected as a duplicate join the original later, and may be
older than its own."""


async def reports(session: AsyncSession, case_id: int) -> Sequence[CaseReport]:
    query = select(CaseReport).where(CaseReport.case_id == case_id).order_by(*JOINING_ORDER)
    return (await session.scalars(query)).all()


async def first_reports_by(
    session: AsyncSession, case_ids: Sequence[int], reporter_id: str
) -> dict[int, tuple[CaseReport, bool]]:
    """Per case among ``case_ids``, the first report ``reporter_id`` filed on it, and whether
    that report opened the case (the case's first, :data:`JOINING_ORDER`)."""
    if not case_ids:
        return {}
    other = aliased(CaseReport)
    opener = (
        select(other.id)
        .where(other.case_id == CaseReport.case_id)
        .order_by(other.joined_at, other.id)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(CaseReport, CaseReport.id == opener)
        .where(CaseReport.case_id.in_(sorted(set(case_ids))), CaseReport.reporter_id == reporter_id)
        .order_by(*(column.desc() for column in JOINING_ORDER))
    )
    rows = (await session.execute(query)).all()
    return {report.case_id: (report, bool(opened)) for report, opened in rows}  # the first wins


async def raters(session: AsyncSession, case_ids: Sequence[int]) -> dict[int, str | None]:
    """Per case among ``case_ids`` that has feedback, who gave its last (the case's rating is theirs)."""
    if not case_ids:
        return {}
    last = (
        select(func.max(CaseEvent.id))
        .where(CaseEvent.case_id.in_(sorted(set(case_ids))), CaseEvent.action == Step.feedback.value)
        .group_by(CaseEvent.case_id)
    )
    rows = await session.execute(select(CaseEvent.case_id, CaseEvent.actor_id).where(CaseEvent.id.in_(last)))
    return {case_id: actor_id for case_id, actor_id in rows}


async def recategorize_reports(session: AsyncSession, case_id: int, category: str) -> None:
    """File the case's reports under ``category``, the case's own since the office set it: the
    inbox matches a new report against open cases by their reports' category (one index holds
    it, the point and the time). What the reporter chose stays on their report in intake."""
    await session.execute(
        update(CaseReport)
        .where(CaseReport.case_id == case_id, CaseReport.category.is_distinct_from(category))
        .values(category=category)
    )


async def timeline(session: AsyncSession, case_id: int) -> Sequence[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    return (await session.scalars(query)).all()


async def known_report_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    dialect = session.get_bind().dialect.name
    query = select(CaseReport.report_id).where(one_of(CaseReport.report_id, ids, dialect))
    return set((await session.scalars(query)).all())


@dataclass(frozen=True)
class CaseFilters:
    statuses: list[str] = field(default_factory=list)
    department: str | None = None
    grid_cell: str | None = None
    community: str | None = None
    category: str | None = None
    overdue: bool | None = None
    due_soon: bool | None = None
    urged: bool | None = None
    extension_requested: bool | None = None
    q: str | None = None
    reporter: str | None = None
    due_first: bool = False
    """``sort=due``: only cases a department is handling, the soonest deadline first."""


def handling() -> ColumnElement[bool]:
    """Cases with a deadline in a department's hands: the predicate of the partial indexes of
    the overdue list and the due list (``HANDLING_WITH_DEADLINE``), which a query implies."""
    return and_(Case.deadline_at.is_not(None), Case.status.in_([s.value for s in HANDLING]))


def overdue(now: datetime) -> ColumnElement[bool]:
    """Cases past their deadline while their department handles them (``lifecycle.is_overdue``)."""
    return and_(handling(), Case.deadline_at < now)


def due_soon(now: datetime) -> ColumnElement[bool]:
    """Cases past their warning, not yet their deadline, in a department's hands
    (``lifecycle.is_due_soon``)."""
    return and_(handling(), Case.warn_at.is_not(None), Case.warn_at <= now, Case.deadline_at >= now)


SEARCH_WORDS = 8
"""Words of a text search each case must hold; more are searched as one with the last."""


def search_words(q: str | None) -> list[str]:
    """The words of a console search, each of which a case must hold somewhere (its number,
    address or description), in any order: ``88号 摆摊`` finds "中山路88号门口有人摆摊";
    it looked for the two words side by side. Past ``SEARCH_WORDS`` the rest is one more word."""
    words = (q or "").split(maxsplit=SEARCH_WORDS - 1)
    return [*words[:-1], " ".join(words[-1].split())] if words else []


def conditions(
    filters: CaseFilters, *, now: datetime, as_reporter: tuple[ColumnElement[bool], str] | None = None
) -> list[ColumnElement[bool]]:
    """The list's filters (all but ``due_first``'s order) as conditions on :class:`Case`, for
    every query that reads the list's cases (its pages, its file, the map); ``as_reporter`` as
    for :func:`page`."""
    where: list[ColumnElement[bool]] = []
    if filters.statuses:
        where.append(Case.status.in_(filters.statuses))
    if filters.department:
        where.append(Case.department_code == filters.department)
    if filters.grid_cell:
        where.append(Case.grid_cell == filters.grid_cell)
    if filters.community:
        where.append(Case.community == filters.community)
    if filters.category:
        where.append(Case.category_code == filters.category)
    if filters.overdue is not None:
        late = overdue(now)
        where.append(late if filters.overdue else ~late)
    if filters.due_soon is not None:
        soon = due_soon(now)
        where.append(soon if filters.due_soon else ~soon)
    if filters.urged is not None:
        where.append(Case.urge_count > 0 if filters.urged else Case.urge_count == 0)
    if filters.extension_requested is not None:
        waiting = and_(handling(), Case.extension_requested_hours.is_not(None))
        where.append(waiting if filters.extension_requested else ~waiting)
    for word in search_words(filters.q):
        # ILIKE (not lower(…) LIKE) so that PostgreSQL's trigram indexes serve it.
        pattern = "%" + word.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
        number = Case.case_number.ilike(pattern, escape="/")
        text = search_text(Case.address, Case.description).ilike(pattern, escape="/")
        if as_reporter is None:
            where.append(or_(text, number))
        else:
            whole, reader = as_reporter
            own = exists().where(
                CaseReport.case_id == Case.id,
                CaseReport.reporter_id == reader,
                CaseReport.description.ilike(pattern, escape="/"),
            )
            where.append(or_(and_(whole, text), number, own))
    if filters.reporter:
        named: ColumnElement[bool] = exists().where(
            CaseReport.case_id == Case.id, CaseReport.reporter_id == filters.reporter
        )
        if as_reporter is not None and filters.reporter != as_reporter[1]:
            named = and_(as_reporter[0], named)
        where.append(named)
    return where


async def page(
    session: AsyncSession,
    filters: CaseFilters,
    *,
    scope: ColumnElement[bool],
    now: datetime,
    limit: int,
    after: tuple[datetime, int] | None,
    as_reporter: tuple[ColumnElement[bool], str] | None = None,
) -> list[Case]:
    """The cases inside ``scope`` (the reader's), newest first, keyset on (created_at, id), or
    with ``due_first`` those being handled, the soonest deadline first, keyset on (deadline_at,
    id); returns up to ``limit + 1`` rows.

    ``as_reporter``: (the cases the reader sees whole, the reader's id) when some cases reach
    them only as a reporter. On those, the text search looks only at the case number and their
    own reports, and ``reporter`` names only themselves: otherwise a search narrowed a letter
    at a time spelled out another reporter's description, and ``reporter`` told who else
    reported."""
    query = select(Case).where(scope, *conditions(filters, now=now, as_reporter=as_reporter))
    if filters.due_first:
        query = query.where(handling())
        if after is not None:
            deadline_at, case_id = after
            query = query.where(
                or_(Case.deadline_at > deadline_at, and_(Case.deadline_at == deadline_at, Case.id > case_id))
            )
        query = query.order_by(Case.deadline_at, Case.id).limit(limit + 1)
        return list((await session.scalars(query)).all())
    if after is not None:
        created_at, case_id = after
        query = query.where(
            or_(Case.created_at < created_at, and_(Case.created_at == created_at, Case.id < case_id))
        )
    query = query.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit + 1)
    return list((await session.scalars(query)).all())


@dataclass(frozen=True)
class Box:
    """A map's view: longitudes and latitudes, in degrees, each range closed."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


MAP_COLUMNS = (
    Case.id,
    Case.case_number,
    Case.status,
    Case.category_code,
    Case.category_name,
    Case.urgency,
    Case.department_code,
    Case.department_name,
    Case.urge_count,
    Case.report_count,
    Case.created_at,
    Case.deadline_at,
    Case.warn_at,
)
"""What a case's point on the map says of it (``warn_at`` for ``due_soon``), besides the point."""


def _point(
    as_reporter: tuple[ColumnElement[bool], str] | None,
) -> tuple[SQLColumnExpression[float], SQLColumnExpression[float]]:
    """Where the reader sees each case: its own point, or for a case that reaches them only as a
    reporter, the point of their first report on it (as the list shows it, ``reading._as_reported``:
    the case's point is that of the report that opened it)."""
    if as_reporter is None:
        return Case.lat, Case.lon
    whole, reader = as_reporter

    def of_first(column: SQLColumnExpression[float], own: SQLColumnExpression[float]) -> ColumnElement[float]:
        theirs = (
            select(column)
            .where(CaseReport.case_id == Case.id, CaseReport.reporter_id == reader)
            .order_by(*JOINING_ORDER)
            .limit(1)
            .scalar_subquery()
        )
        return case((whole, own), else_=func.coalesce(theirs, own))

    return of_first(CaseReport.lat, Case.lat), of_first(CaseReport.lon, Case.lon)


async def on_map(
    session: AsyncSession,
    filters: CaseFilters,
    *,
    scope: ColumnElement[bool],
    now: datetime,
    box: Box | None,
    limit: int,
    as_reporter: tuple[ColumnElement[bool], str] | None = None,
) -> tuple[Sequence[tuple[Any, ...]], int]:
    """The map's cases inside ``scope`` and ``box``: up to ``limit`` rows of :data:`MAP_COLUMNS`
    then the point's latitude and longitude (tuples, cheaper to read than
    mappings), the overdue first, then the due soon, then the newest; and how many
    match in all (counted only when more than ``limit`` do)."""
    lat, lon = _point(as_reporter)
    where = [scope, *conditions(filters, now=now, as_reporter=as_reporter)]
    if box is not None:
        where += [lat.between(box.min_lat, box.max_lat), lon.between(box.min_lon, box.max_lon)]
    urgency = case((overdue(now), 0), (due_soon(now), 1), else_=2)
    query = (
        select(*MAP_COLUMNS, lat.label("lat"), lon.label("lon"))
        .where(*where)
        .order_by(urgency, Case.created_at.desc(), Case.id.desc())
        .limit(limit + 1)
    )
    rows = (await session.execute(query)).all()
    if len(rows) <= limit:
        return rows, len(rows)
    total = await session.scalar(select(func.count()).select_from(Case).where(*where))
    return rows[:limit], int(total or 0)
