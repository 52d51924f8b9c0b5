"""Queries on the region tree and the territory version."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Select, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import Region, Territory
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
    rows = await session.scalars(select(Region.code).where(Region.parent_code == code).order_by(Region.code))
    return list(rows)


async def cell_geometries(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    rows = await session.execute(
        select(Region.code, Region.geometry).where(Region.level == Level.cell.value).order_by(Region.code)
    )
    return [(code, geometry) for code, geometry in rows if geometry is not None]


async def all_regions(session: AsyncSession) -> Sequence[Region]:
    return (await session.scalars(select(Region).order_by(Region.code))).all()


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


def list_statement(*, level: Level | None, parent: str | None) -> Select[Region]:
    statement = select(Region)
    if level is not None:
        statement = statement.where(Region.level == level.value)
    if parent is not None:
        statement = statement.where(Region.parent_code == parent)
    return statement
