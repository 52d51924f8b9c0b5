"""The region tree: importing GeoJSON, listing and reading regions.

:func:`import_feature_collection` is all-or-nothing: every problem in the file is collected
first and the import is refused with all of them, or every feature is written (and every
region its ``retire`` names retired, with everything under it) and, if that created, changed
or retired a region, the territory version goes up by one.

A retired region stays stored (cases, routing rules and people still name it) but is no
longer located, exported to intake, listed (but with ``retired=true``) or assignable; cells
drawn anew may overlap it. Importing its code again brings it back.
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
from services.grid.regions.validation import (
    Problem,
    RegionFeature,
    find_overlaps,
    parse_features,
    parse_retirements,
    problem,
)
from shared.db import utcnow
from shared.errors import NotFound


async def import_feature_collection(
    session: AsyncSession, *, data: dict[str, Any], actor_id: str
) -> ImportSummary:
    """Upsert the regions of a GeoJSON FeatureCollection by code; raises :class:`TerritoryRejected`."""
    features, problems = parse_features(data)
    retiring, found = parse_retirements(data) if isinstance(data, dict) else (set(), [])
    problems.extend(found)
    _refuse_if(problems)
    territory = await repository.lock_territory(session, actor_id=actor_id)
    codes = {f.code for f in features}
    parents = {f.parent_code for f in features if f.parent_code is not None}
    stored = await repository.get_many(session, codes | parents | retiring)
    retired, found = await _retirements(session, retiring, stored=stored, imported=codes)
    problems.extend(found)
    in_use = {code for code, region in stored.items() if region.retired_at is None}
    problems.extend(_missing_parents(features, known=codes | in_use, stored=stored, retired=retired))
    new_cells = [(f.code, f.geometry) for f in features if f.level is Level.cell and f.geometry is not None]
    if new_cells:
        existing_cells = [  # not those the file replaces: one stored unreadable is mended so
            (code, shape(geometry))
            for code, geometry in await repository.cell_geometries(session)
            if code not in codes and code not in retired
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
        elif region.retired_at is None and _same(region, feature):
            unchanged += 1
            continue
        else:
            updated += 1
            region.retired_at = None  # drawn again: back in use
        region.name = feature.name
        region.name_en = feature.name_en
        region.parent_code = feature.parent_code
        region.updated_at = now
        region.updated_by = actor_id
        if feature.geometry is not None or region.geometry is None:
            region.geometry = feature.geojson()
    if retired:
        await repository.retire(session, retired, now=now, actor_id=actor_id)
    if (
        created or updated or retired
    ):  # the same file again changes nothing: intake and locate keep their copy
        territory.version += 1
        territory.updated_at = now
        territory.updated_by = actor_id
    await session.flush()
    return ImportSummary(
        version=territory.version,
        created=created,
        updated=updated,
        unchanged=unchanged,
        retired=len(retired),
        by_level=dict(Counter(f.level.value for f in features)),
        assigned_to_retired=await repository.usernames_assigned(session, retired) if retired else [],
    )


async def _retirements(
    session: AsyncSession, retiring: set[str], *, stored: dict[str, Region], imported: set[str]
) -> tuple[set[str], list[Problem]]:
    """The regions in use that ``retiring`` retires (each named one and everything under it),
    and the problems: a code not stored, a code the file also imports. A region retired
    already is left as it is."""
    problems = [
        problem(code, "no region to retire: the code is not stored")
        for code in sorted(retiring - set(stored))
    ]
    problems += [
        problem(code, "the file both imports and retires this region") for code in sorted(retiring & imported)
    ]
    retiring = (retiring & set(stored)) - imported  # the rest still checked, as if it were taken
    if not retiring:
        return set(), problems
    # a child's code starts with its parent's: a region goes when any of its lineage does
    in_use = await repository.active_codes(session)
    return {code for code in in_use if not retiring.isdisjoint(lineage(code))} - imported, problems


def _same(region: Region, feature: RegionFeature) -> bool:
    """Whether writing ``feature`` would leave ``region`` as it is (no geometry in the file keeps
    the stored one)."""
    names = (region.name, region.name_en, region.parent_code)
    if names != (feature.name, feature.name_en, feature.parent_code):
        return False
    return feature.geometry is None or feature.geojson() == region.geometry


def _missing_parents(
    features: list[RegionFeature], *, known: set[str], stored: dict[str, Region], retired: set[str]
) -> list[Problem]:
    def missing(parent: str) -> str:
        if parent in retired:
            return f"missing parent: region {parent} is retired by this file"
        if parent in stored:
            return f"missing parent: region {parent} is retired; import it again first, or in the file"
        return f"missing parent: region {parent} is neither stored nor in the file"

    return [
        problem(f.code, missing(f.parent_code), f.index)
        for f in features
        if f.parent_code is not None and (f.parent_code not in known or f.parent_code in retired)
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
    session: AsyncSession,
    *,
    level: Level | None,
    parent: str | None,
    retired: bool,
    limit: int,
    cursor: str | None,
) -> RegionPage:
    statement = repository.list_statement(level=level, parent=parent, retired=retired)
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
        retired_at=region.retired_at,
    )
