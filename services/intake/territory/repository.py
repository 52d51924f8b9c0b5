"""The stored copy of grid's cells and its version."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.clients.grid import CellFeature
from services.intake.models import TerritoryCell, TerritoryVersion
from shared.db import utcnow

_VERSION_ROW = 1


async def load(session: AsyncSession) -> tuple[str | None, Sequence[TerritoryCell]]:
    version = await session.get(TerritoryVersion, _VERSION_ROW)
    cells = (await session.scalars(select(TerritoryCell).order_by(TerritoryCell.code))).all()
    return (version.version if version else None), cells


async def replace(session: AsyncSession, *, version: str, cells: Sequence[CellFeature]) -> None:
    await session.execute(delete(TerritoryCell))
    session.add_all(
        TerritoryCell(
            code=cell.code,
            name=cell.name,
            community_code=cell.community_code,
            community_name=cell.community_name,
            geometry=cell.geometry,
        )
        for cell in cells
    )
    row = await session.get(TerritoryVersion, _VERSION_ROW)
    if row is None:
        session.add(TerritoryVersion(id=_VERSION_ROW, version=version, refreshed_at=utcnow()))
    else:
        row.version = version
        row.refreshed_at = utcnow()
    await session.flush()
