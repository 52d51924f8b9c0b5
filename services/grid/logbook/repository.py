"""Queries on the daily logs, on who has written none, and on each writer's monthly figures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    SQLColumnExpression,
    and_,
    distinct,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.grid.logbook.rules import WRITERS
from services.grid.models import PatrolLog, Region, Staff, StaffAssignment
from shared.regions import held_by


async def get(session: AsyncSession, log_id: int, *, for_update: bool = False) -> PatrolLog | None:
    """The row, or None; ``for_update`` locks it until the transaction ends (PostgreSQL: a
    correction checks ``If-Match`` against the version it then writes over)."""
    return await session.get(PatrolLog, log_id, with_for_update=for_update, populate_existing=for_update)


async def find(session: AsyncSession, *, author: str, day: date, grid_cell: str) -> PatrolLog | None:
    """The author's entry for the cell and day, if written."""
    return await session.scalar(
        select(PatrolLog).where(
            PatrolLog.author == author, PatrolLog.day == day, PatrolLog.grid_cell == grid_cell
        )
    )


async def assigned_regions(session: AsyncSession, username: str) -> list[str]:
    """The regions the staff member is assigned as grid holds them now (not as their token
    carried them at sign-in), sorted; none for an unknown username or one deactivated since."""
    rows = await session.scalars(
        select(StaffAssignment.region_code)
        .join(Staff, Staff.id == StaffAssignment.staff_id)
        .where(Staff.username == username, Staff.active.is_(True))
        .order_by(StaffAssignment.region_code)
    )
    return list(rows)


async def is_active(session: AsyncSession, username: str) -> bool:
    """Whether the staff member is active now (their token may have been issued before an admin
    deactivated them: it stays good for its minutes)."""
    return bool(await session.scalar(select(Staff.active).where(Staff.username == username)))


async def region_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    """The names of the regions ``codes`` name (a code grid does not have is left out)."""
    return await _names(session, Region.code, Region.name, codes)


async def staff_names(session: AsyncSession, usernames: Iterable[str]) -> dict[str, str]:
    """The names of the staff ``usernames`` name (one grid does not have is left out)."""
    return await _names(session, Staff.username, Staff.name, usernames)


async def _names(
    session: AsyncSession,
    key: InstrumentedAttribute[str],
    name: InstrumentedAttribute[str],
    keys: Iterable[str],
) -> dict[str, str]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = await session.execute(select(key, name).where(key.in_(wanted)))
    return {code: value for code, value in rows}


def within(column: SQLColumnExpression[str], regions: Sequence[str]) -> ColumnElement[bool]:
    """``column`` names a region held by one of ``regions`` (none: nothing)."""
    return or_(false(), *(held_by(column, region) for region in regions))


@dataclass(frozen=True)
class LogFilters:
    since: date | None = None
    until: date | None = None
    """The day after the last."""
    grid_cell: str | None = None
    community: str | None = None
    author: str | None = None


def list_statement(filters: LogFilters, *, scope: ColumnElement[bool]) -> Select[PatrolLog]:
    """Entries the reader may see (``scope``) that the filters ask for, newest day first."""
    statement = select(PatrolLog).where(scope)
    if filters.since is not None:
        statement = statement.where(PatrolLog.day >= filters.since)
    if filters.until is not None:
        statement = statement.where(PatrolLog.day < filters.until)
    if filters.grid_cell is not None:
        statement = statement.where(PatrolLog.grid_cell == filters.grid_cell)
    if filters.community is not None:
        statement = statement.where(held_by(PatrolLog.grid_cell, filters.community))
    if filters.author is not None:
        statement = statement.where(PatrolLog.author == filters.author)
    return statement


async def page(
    session: AsyncSession,
    statement: Select[PatrolLog],
    *,
    after: tuple[date, int] | None,
    limit: int,
) -> list[PatrolLog]:
    """Up to ``limit + 1`` rows (the one more says a next page exists), after the position of
    the page before: newest day first, then the newest entry of a day first."""
    if after is not None:
        day, log_id = after
        statement = statement.where(
            or_(PatrolLog.day < day, and_(PatrolLog.day == day, PatrolLog.id < log_id))
        )
    statement = statement.order_by(PatrolLog.day.desc(), PatrolLog.id.desc()).limit(limit + 1)
    return list((await session.scalars(statement)).all())


def missing_statement(day: date, *, regions: Sequence[str] | None, community: str | None) -> Select[Staff]:
    """The active grid workers and assistants assigned at least one cell (in ``regions``, when
    given: a leader's communities; in ``community``, when given) who wrote no entry on ``day``."""
    logged = exists().where(PatrolLog.author == Staff.username, PatrolLog.day == day)
    return select(Staff).where(_assigned_writers(regions=regions, community=community), ~logged)


def _assigned_writers(*, regions: Sequence[str] | None, community: str | None) -> ColumnElement[bool]:
    """An active grid worker or assistant assigned at least one cell in ``regions`` (None: any)
    and in ``community`` (None: any)."""
    return and_(
        Staff.role.in_(sorted(role.value for role in WRITERS)),
        Staff.active.is_(True),
        exists().where(
            StaffAssignment.staff_id == Staff.id,
            within(StaffAssignment.region_code, regions) if regions is not None else true(),
            held_by(StaffAssignment.region_code, community) if community is not None else true(),
        ),
    )


@dataclass(frozen=True)
class AuthorCounts:
    """One author's entries in a period, as :func:`figures_counts` sums them."""

    author: str
    days_logged: int
    entries: int
    households_visited: int
    concerns: int
    last_day: date


def _counted(
    since: date, until: date, *, regions: Sequence[str] | None, community: str | None
) -> ColumnElement[bool]:
    """The entries of the period in ``regions`` (a leader's communities; None: all) and ``community``."""
    return and_(
        PatrolLog.day >= since,
        PatrolLog.day < until,
        within(PatrolLog.grid_cell, regions) if regions is not None else true(),
        held_by(PatrolLog.grid_cell, community) if community is not None else true(),
    )


async def figures_counts(
    session: AsyncSession, since: date, until: date, *, regions: Sequence[str] | None, community: str | None
) -> list[AuthorCounts]:
    """Each author's sums over the entries :func:`_counted` selects, in one GROUP BY. The
    concerns are a JSON array (JSONB on PostgreSQL, JSON text on SQLite): each dialect's own
    function counts its items, so the sum stays in the database."""
    if session.get_bind().dialect.name == "postgresql":
        concerns = func.jsonb_array_length(PatrolLog.concerns, type_=Integer)
    else:
        concerns = func.json_array_length(PatrolLog.concerns, type_=Integer)
    rows = await session.execute(
        select(
            PatrolLog.author,
            func.count(distinct(PatrolLog.day)),
            func.count(PatrolLog.id),
            func.sum(PatrolLog.households_visited),
            func.sum(concerns),
            func.max(PatrolLog.day),
        )
        .where(_counted(since, until, regions=regions, community=community))
        .group_by(PatrolLog.author)
    )
    return [
        AuthorCounts(
            author=author,
            days_logged=days,
            entries=entries,
            households_visited=int(households),
            concerns=int(heard),
            last_day=last_day,
        )
        for author, days, entries, households, heard, last_day in rows
    ]


async def figures_people(
    session: AsyncSession, since: date, until: date, *, regions: Sequence[str] | None, community: str | None
) -> list[Staff]:
    """Whom the figures name, by username: the active grid workers and assistants assigned a cell
    in ``regions`` and ``community`` (those :func:`missing_statement` checks), and whoever wrote
    an entry :func:`_counted` selects, active, assigned or not."""
    assigned = _assigned_writers(regions=regions, community=community)
    wrote = Staff.username.in_(
        select(PatrolLog.author).where(_counted(since, until, regions=regions, community=community))
    )
    return list(
        (await session.scalars(select(Staff).where(or_(assigned, wrote)).order_by(Staff.username))).all()
    )
