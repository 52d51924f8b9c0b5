"""Queries on the region tree and the territory version."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import Region, Staff, StaffAssignment, Territory
from services.grid.regions.codes import Level
from shared.db import insert_of, utcnow

TERRITORY_ROW = 1


async def get(session: AsyncSession, code: str) -> Region | None:
    return await session.get(Region, code)


async def get_many(session: AsyncSession, codes: Iterable[str]) -> dict[str, Region]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await session.scalars(select(Region).where(Region.code.in_(wanted)))
    return {region.code: region for region in rows}


async def existing_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    """Which of ``codes`` name a region (without loading their geometry)."""
    wanted = sorted(set(codes))
    if not wanted:
        return set()
    return set(await session.scalars(select(Region.code).where(Region.code.in_(wanted))))


async def has_any(session: AsyncSession) -> bool:
    return (await session.scalar(select(Region.code).limit(1))) is not None


async def child_codes(session: AsyncSession, code: str) -> list[str]:
    """The codes of the region's children in use (not retired)."""
    statement = select(Region.code).where(Region.parent_code == code, Region.retired_at.is_(None))
    return list(await session.scalars(statement.order_by(Region.code)))


async def cell_geometries(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    """The outlines of the cells in use."""
    rows = await session.execute(
        select(Region.code, Region.geometry)
        .where(Region.level == Level.cell.value, Region.retired_at.is_(None))
        .order_by(Region.code)
    )
    return [(code, geometry) for code, geometry in rows if geometry is not None]


async def active_regions(session: AsyncSession) -> Sequence[Region]:
    """Every region in use: what ``locate`` and intake's copy of the cells know."""
    return (
        await session.scalars(select(Region).where(Region.retired_at.is_(None)).order_by(Region.code))
    ).all()


async def active_codes(session: AsyncSession) -> set[str]:
    return set(await session.scalars(select(Region.code).where(Region.retired_at.is_(None))))


CODES_PER_STATEMENT = 1000
"""Codes bound in one ``IN`` list: a re-division may retire a whole city's cells, more than a
statement takes parameters."""


def _chunks(codes: Iterable[str]) -> list[list[str]]:
    ordered = sorted(set(codes))
    return [ordered[i : i + CODES_PER_STATEMENT] for i in range(0, len(ordered), CODES_PER_STATEMENT)]


async def retire(session: AsyncSession, codes: Iterable[str], *, now: datetime, actor_id: str) -> None:
    for chunk in _chunks(codes):
        await session.execute(
            update(Region)
            .where(Region.code.in_(chunk))
            .values(retired_at=now, updated_at=now, updated_by=actor_id)
        )


async def usernames_assigned(session: AsyncSession, codes: Iterable[str]) -> list[str]:
    """The active staff assigned to any of ``codes``, by username."""
    found: set[str] = set()
    for chunk in _chunks(codes):
        statement = (
            select(Staff.username)
            .join(StaffAssignment, StaffAssignment.staff_id == Staff.id)
            .where(StaffAssignment.region_code.in_(chunk), Staff.active.is_(True))
        )
        found.update(await session.scalars(statement))
    return sorted(found)


async def current_version(session: AsyncSession) -> int:
    version = await session.scalar(select(Territory.version).where(Territory.id == TERRITORY_ROW))
    return int(version or 0)


async def lock_territory(session: AsyncSession, *, actor_id: str) -> Territory:
    """The territory row, locked until the transaction ends: imports run one at a time. The
    first import creates it; two first imports at once both insert it if absent (one waits for
    the other's), where a plain insert made the second a 500."""
    insert = insert_of(session.get_bind().dialect.name)
    first: Any = insert(cast(Table, Territory.__table__)).values(
        id=TERRITORY_ROW, version=0, updated_at=utcnow(), updated_by=actor_id
    )
    await session.execute(first.on_conflict_do_nothing(index_elements=["id"]))
    territory = await session.scalar(select(Territory).where(Territory.id == TERRITORY_ROW).with_for_update())
    assert territory is not None
    return territory


def list_statement(*, level: Level | None, parent: str | None, retired: bool) -> Select[Region]:
    statement = select(Region).where(
        Region.retired_at.is_not(None) if retired else Region.retired_at.is_(None)
    )
    if level is not None:
        statement = statement.where(Region.level == level.value)
    if parent is not None:
        statement = statement.where(Region.parent_code == parent)
    return statement
