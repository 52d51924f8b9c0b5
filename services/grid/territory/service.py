"""Locate a point, and export the cells for peers that keep their own copy (intake)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.errors import OutsideTerritory
from services.grid.regions import repository as regions
from services.grid.regions.codes import lineage
from services.grid.territory.index import TerritoryIndex
from services.grid.territory.schemas import CellFeature, Location, TerritoryCells


async def locate(session: AsyncSession, *, index: TerritoryIndex, lat: float, lon: float) -> Location:
    snapshot = await index.snapshot(session)
    code = snapshot.cells.locate(lat, lon)
    if code is None:
        raise OutsideTerritory(f"({lat}, {lon}) lies in no grid cell of the territory", lat=lat, lon=lon)
    cell, community, subdistrict, district = (snapshot.regions[c] for c in lineage(code))
    return Location(cell=cell, community=community, subdistrict=subdistrict, district=district)


async def territory_version(session: AsyncSession) -> str:
    return str(await regions.current_version(session))


async def territory_cells(session: AsyncSession) -> TerritoryCells:
    # Version first: the cells are never older than the version they are labelled with.
    version = await territory_version(session)
    rows = await regions.active_regions(session)
    names = {r.code: r.name for r in rows}
    return TerritoryCells(
        version=version,
        cells=[
            CellFeature(
                code=r.code,
                name=r.name,
                community_code=r.parent_code,
                community_name=names[r.parent_code],
                geometry=r.geometry,
            )
            for r in rows
            if r.level == "cell" and r.geometry is not None and r.parent_code is not None
        ],
    )
