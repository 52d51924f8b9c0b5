"""Routing: the catalog's department per category, unless an override for the area says otherwise.

The override on the nearest region of a cell's lineage (cell, community, subdistrict,
district) wins over the catalog default.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.catalog import service as catalog
from services.grid.catalog.schemas import CategoryRead
from services.grid.departments import repository as departments
from services.grid.models import RoutingOverride
from services.grid.pagination import keyset_page
from services.grid.regions import repository as regions
from services.grid.regions.codes import lineage
from services.grid.routing import repository
from services.grid.routing.schemas import (
    DepartmentRef,
    OverrideCreate,
    OverridePage,
    OverrideRead,
    Resolution,
    Source,
)
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unprocessable

log = logging.getLogger("wangge.grid.routing")


async def resolve(session: AsyncSession, *, category_code: str, cell_code: str | None) -> Resolution:
    category = await catalog.get_category(session, code=category_code)
    department_code, source, region_code = category.department_code, Source.catalog, None
    if cell_code is not None:
        if await regions.get(session, cell_code) is None:
            raise NotFound(f"no region {cell_code}")
        chain = lineage(cell_code)
        overrides = await repository.for_regions(session, category_code=category_code, region_codes=chain)
        if overrides:
            nearest = min(overrides, key=lambda o: chain.index(o.region_code))
            department_code, source, region_code = (
                nearest.department_code,
                Source.override,
                nearest.region_code,
            )
    department = await departments.get(session, department_code) if department_code else None
    if department is None:
        source = Source.none
    return Resolution(
        category=CategoryRead.model_validate(category),
        department=DepartmentRef.model_validate(department) if department else None,
        source=source,
        region_code=region_code,
    )


async def list_overrides(
    session: AsyncSession, *, region: str | None, category: str | None, limit: int, cursor: str | None
) -> OverridePage:
    statement = repository.list_statement(region=region, category=category)
    rows, next_cursor = await keyset_page(
        session, statement, key=RoutingOverride.id, limit=limit, cursor=cursor
    )
    return OverridePage(items=[OverrideRead.model_validate(r) for r in rows], next_cursor=next_cursor)


async def create_override(session: AsyncSession, *, data: OverrideCreate, actor_id: str) -> RoutingOverride:
    if await regions.get(session, data.region_code) is None:
        raise Unprocessable(f"no region {data.region_code}", field="region_code")
    await catalog.get_category(session, code=data.category_code)
    if await departments.get(session, data.department_code) is None:
        raise Unprocessable(f"no department {data.department_code!r}", field="department_code")
    existing = await repository.find(session, region_code=data.region_code, category_code=data.category_code)
    if existing is not None:
        raise Conflict(
            f"region {data.region_code} already routes category {data.category_code}; delete override "
            f"{existing.id} first",
            existing_id=existing.id,
        )
    override = RoutingOverride(**data.model_dump(), created_at=utcnow(), created_by=actor_id)
    session.add(override)
    await session.flush()
    return override


async def delete_override(session: AsyncSession, *, override_id: int, actor_id: str) -> None:
    override = await repository.get(session, override_id)
    if override is None:
        raise NotFound(f"no routing override {override_id}")
    await session.delete(override)
    await session.flush()
    log.info(
        "routing override %s (%s, %s → %s) deleted by %s",
        override_id,
        override.region_code,
        override.category_code,
        override.department_code,
        actor_id,
    )
