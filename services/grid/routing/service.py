"""Routing: the catalog's department per category, unless an override for the area says otherwise.

The override on the nearest region of a cell's lineage (cell, community, subdistrict,
district) wins over the catalog default. A retired category is answered as one the catalog does
not hold (dispatch puts its report in triage); a retired department is never routed to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.catalog import repository as catalog_repository
from services.grid.catalog.schemas import CategoryRead
from services.grid.departments import repository as departments
from services.grid.models import RoutingOverride
from services.grid.pagination import keyset_page
from services.grid.regions import repository as regions
from services.grid.regions.codes import Level, level_of, lineage
from services.grid.routing import repository
from services.grid.routing.schemas import (
    DepartmentRef,
    OverrideCreate,
    OverridePage,
    OverrideRead,
    Resolution,
    Source,
)
from shared.db import flush_new, utcnow
from shared.errors import Conflict, NotFound, Unprocessable

log = logging.getLogger("wangge.grid.routing")


async def resolve(session: AsyncSession, *, category_code: str, cell_code: str | None) -> Resolution:
    """Where a report of the category (in the cell) goes; 404 when either is unknown."""
    (answer,) = await resolve_many(session, [(category_code, cell_code)])
    if isinstance(answer, str):
        raise NotFound(answer)
    return answer


async def resolve_many(
    session: AsyncSession, questions: Sequence[tuple[str, str | None]]
) -> list[Resolution | str]:
    """Each question's resolution, or why there is none (an unknown category or cell), in
    order, each department with its active handlers (dispatch logs a case routed to one with
    none); five queries however many questions."""
    chains = {cell: lineage(cell) for _, cell in questions if cell is not None}
    categories = await catalog_repository.get_many(session, [category for category, _ in questions])
    cells = await regions.existing_codes(session, chains)
    overrides = await repository.for_regions(
        session,
        category_codes=categories,
        region_codes={code for chain in chains.values() for code in chain},
    )
    by_pair = {(o.category_code, o.region_code): o for o in overrides}
    wanted = {c.department_code for c in categories.values() if c.department_code}
    known_departments = await departments.get_many(session, wanted | {o.department_code for o in overrides})
    handlers = await departments.active_handlers(
        session, [code for code, d in known_departments.items() if d.retired_at is None]
    )

    def answer(category_code: str, cell_code: str | None) -> Resolution | str:
        category = categories.get(category_code)
        if category is None:
            return f"no category {category_code!r} in the catalog"
        if category.retired_at is not None:
            return f"category {category_code!r} is retired from the catalog"
        department_code, source, region_code = category.department_code, Source.catalog, None
        if cell_code is not None:
            if cell_code not in cells:
                return f"no region {cell_code}"
            if level_of(cell_code) is not Level.cell:
                return f"region {cell_code} is a {level_of(cell_code)}, not a grid cell"
            # the override on the nearest region of the cell's lineage wins
            nearest = next(
                (
                    by_pair[category_code, code]
                    for code in chains[cell_code]
                    if (category_code, code) in by_pair
                ),
                None,
            )
            if nearest is not None:
                department_code, source, region_code = (
                    nearest.department_code,
                    Source.override,
                    nearest.region_code,
                )
        department = known_departments.get(department_code) if department_code else None
        if department is not None and department.retired_at is not None:
            department = None  # none is left naming it (its retirement's 409): a dispatcher decides
        return Resolution(
            category=CategoryRead.model_validate(category),
            department=DepartmentRef(
                code=department.code,
                name_zh=department.name_zh,
                name_en=department.name_en,
                active_handlers=handlers[department.code],
            )
            if department
            else None,
            source=source if department else Source.none,
            region_code=region_code,
        )

    return [answer(category, cell) for category, cell in questions]


async def list_overrides(
    session: AsyncSession, *, region: str | None, category: str | None, limit: int, cursor: str | None
) -> OverridePage:
    statement = repository.list_statement(region=region, category=category)
    rows, next_cursor = await keyset_page(
        session, statement, key=RoutingOverride.id, limit=limit, cursor=cursor
    )
    return OverridePage(items=[OverrideRead.model_validate(r) for r in rows], next_cursor=next_cursor)


async def create_override(session: AsyncSession, *, data: OverrideCreate, actor_id: str) -> RoutingOverride:
    region = await regions.get(session, data.region_code)
    if region is None:
        raise Unprocessable(f"no region {data.region_code}", field="region_code")
    if region.retired_at is not None:
        raise Unprocessable(f"region {data.region_code} is retired", field="region_code")
    category = await catalog_repository.get(session, data.category_code)
    if category is None:  # a 404 before: 422 like the others
        raise Unprocessable(f"no category {data.category_code!r} in the catalog", field="category_code")
    if category.retired_at is not None:
        raise Unprocessable(f"category {data.category_code!r} is retired", field="category_code")
    # locked until the transaction ends: a retirement of the department waits, then sees this one
    department = await departments.get(session, data.department_code, for_update=True)
    if department is None:
        raise Unprocessable(f"no department {data.department_code!r}", field="department_code")
    if department.retired_at is not None:
        raise Unprocessable(f"department {data.department_code!r} is retired", field="department_code")
    existing = await repository.find(session, region_code=data.region_code, category_code=data.category_code)
    if existing is not None:
        raise Conflict(
            f"region {data.region_code} already routes category {data.category_code}; delete override "
            f"{existing.id} first",
            existing_id=existing.id,
        )
    override = RoutingOverride(**data.model_dump(), created_at=utcnow(), created_by=actor_id)
    session.add(override)
    if not await flush_new(session):  # created by a concurrent request
        raise Conflict(f"region {data.region_code} already routes category {data.category_code}")
    return override


async def get_override(session: AsyncSession, *, override_id: int) -> RoutingOverride:
    override = await repository.get(session, override_id)
    if override is None:
        raise NotFound(f"no routing override {override_id}")
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
