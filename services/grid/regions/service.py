"""The region tree: importing GeoJSON, listing and reading regions.

:func:`import_feature_collection` is all-or-nothing: every problem in the file is collected
first and the import is refused with all of them, or every feature is written and, if one
created or changed a region, the territory version goes up by one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.errors import TerritoryRejected
from services.grid.models import Region
from services.grid.pagination import keyset_page
from services.grid.regions import repository
from services.grid.regions.codes import Level, lineage
from services.grid.regions.schemas import ImportSummary, RegionDetail, RegionPage, RegionRef, RegionSummary
from services.grid.regions.validation import Problem, RegionFeature, find_overlaps, parse_features, problem
from shared.db import utcnow
from shared.errors import NotFound


async def import_feature_collection(
    session: AsyncSession, *, data: dict[str, Any], actor_id: str
) -> ImportSummary:
    """Upsert the regions of a GeoJSON FeatureCollection by code; raises :class:`TerritoryRejected`."""
    features, problems = parse_features(data)
    _refuse_if(problems)
    territory = await repository.lock_territory(session, actor_id=actor_id)
    codes = {f.code for f in features}
    parents = {f.parent_code for f in features if f.parent_code is not None}
    stored = await repository.get_many(session, codes | parents)
    problems.extend(_missing_parents(features, known=codes | set(stored)))
    new_cells = [(f.code, f.geometry) for f in features if f.level is Level.cell and f.geometry is not None]
    if new_cells:
        existing_cells = [  # not those the file replaces: one stored unreadable is mended so
            (code, shape(geometry))
            for code, geometry in await repository.cell_geometries(session)
            if code not in codes
        ]
        problems.extend(find_overlaps(new_cells, existing_cells))
    _refuse_if(problems)

    now = utcnow()
    created = updated = unchanged = 0
    for feature in features:
        region = stored.get(feature.code)
        if region is None:
            region = Region(code=feature.code, level=feature.level.value, created_at=now)
            session.add(region)
            created += 1
        elif _same(region, feature):
            unchanged += 1
            continue
        else:
            updated += 1
        region.name = feature.name
        region.name_en = feature.name_en
        region.parent_code = feature.parent_code
        region.updated_at = now
        region.updated_by = actor_id
        if feature.geometry is not None or region.geometry is None:
            region.geometry = feature.geojson()
    if created or updated:  # the same file again changes nothing: intake and locate keep their copy
        territory.version += 1
        territory.updated_at = now
        territory.updated_by = actor_id
    await session.flush()
    return ImportSummary(
        version=territory.version,
        created=created,
        updated=updated,
        unchanged=unchanged,
        by_level=dict(Counter(f.level.value for f in features)),
    )


def _same(region: Region, feature: RegionFeature) -> bool:
    """Whether writing ``feature`` would leave ``region`` as it is (no geometry in the file keeps
    the stored one)."""
    names = (region.name, region.name_en, region.parent_code)
    if names != (feature.name, feature.name_en, feature.parent_code):
        return False
    return feature.geometry is None or feature.geojson() == region.geometry


def _missing_parents(features: list[RegionFeature], *, known: set[str]) -> list[Problem]:
    return [
        problem(f.code, f"missing parent: region {f.parent_code} is neither stored nor in the file", f.index)
        for f in features
        if f.parent_code is not None and f.parent_code not in known
    ]


def _refuse_if(problems: list[Problem]) -> None:
    if problems:
        first = problems[0]
        where = f"{first['code']}: " if first["code"] else ""
        raise TerritoryRejected(
            f"nothing was imported: {len(problems)} problem(s), the first is {where}{first['problem']}",
            errors=problems,
        )


async def list_regions(
    session: AsyncSession, *, level: Level | None, parent: str | None, limit: int, cursor: str | None
) -> RegionPage:
    statement = repository.list_statement(level=level, parent=parent)
    rows, next_cursor = await keyset_page(session, statement, key=Region.code, limit=limit, cursor=cursor)
    return RegionPage(items=[RegionSummary.model_validate(r) for r in rows], next_cursor=next_cursor)


async def get_region(session: AsyncSession, *, code: str) -> RegionDetail:
    region = await repository.get(session, code)
    if region is None:
        raise NotFound(f"no region {code}")
    ancestors = await repository.get_many(session, lineage(code)[1:])
    return RegionDetail(
        code=region.code,
        name=region.name,
        name_en=region.name_en,
        level=Level(region.level),
        parent_code=region.parent_code,
        geometry=region.geometry,
        ancestors=[RegionRef.model_validate(ancestors[c]) for c in lineage(code)[1:] if c in ancestors],
        children=await repository.child_codes(session, code),
        updated_at=region.updated_at,
    )
