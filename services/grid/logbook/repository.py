"""Queries on the daily logs, and on who has written none."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, exists, false, or_, select, true
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
    carried them at sign-in), sorted; none for an unknown username."""
    rows = await session.scalars(
        select(StaffAssignment.region_code)
        .join(Staff, Staff.id == StaffAssignment.staff_id)
        .where(Staff.username == username)
        .order_by(StaffAssignment.region_code)
    )
    return list(rows)


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
    assigned = StaffAssignment.staff_id == Staff.id
    in_scope = within(StaffAssignment.region_code, regions) if regions is not None else true()
    in_community = held_by(StaffAssignment.region_code, community) if community is not None else true()
    logged = exists().where(PatrolLog.author == Staff.username, PatrolLog.day == day)
    return select(Staff).where(
        Staff.role.in_(sorted(role.value for role in WRITERS)),
        Staff.active.is_(True),
        exists().where(assigned, in_scope, in_community),
        ~logged,
    )
