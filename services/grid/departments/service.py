"""Departments: the units cases are dispatched to.

A department is never deleted (cases name it); an admin retires it (``retired: true``) when it
is merged into another or reorganised. Not while a category in use or a routing override still
sends cases to it: the 409 names them, for the admin to give them another department first, so
routing never lands a case on a retired department. A retired department is no longer listed
(but with ``retired=true``), given categories, overrides or new handlers, nor dispatched to
(dispatch reads ``retired_at``); reading it by code still works, and ``retired: false`` brings
it back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.departments import repository
from services.grid.departments.schemas import (
    DepartmentCreate,
    DepartmentPage,
    DepartmentRead,
    DepartmentUpdate,
)
from services.grid.models import Department
from services.grid.pagination import keyset_page
from shared.db import flush_new, utcnow
from shared.errors import Conflict, NotFound
from shared.etags import require_if_match

log = logging.getLogger("wangge.grid.departments")


async def get_department(session: AsyncSession, *, code: str, for_update: bool = False) -> Department:
    department = await repository.get(session, code, for_update=for_update)
    if department is None:
        raise NotFound(f"no department {code!r}")
    return department


async def reads(
    session: AsyncSession, rows: Sequence[Department], *, counted: bool = True
) -> list[DepartmentRead]:
    """The departments as the API shows them; ``counted``: with their active handlers (one
    query for all), else with ``active_handlers`` null."""
    counts = await repository.active_handlers(session, [r.code for r in rows]) if counted else {}
    return [
        DepartmentRead.model_validate(r).model_copy(update={"active_handlers": counts.get(r.code)})
        for r in rows
    ]


async def list_departments(
    session: AsyncSession, *, retired: bool = False, limit: int, cursor: str | None, counted: bool = True
) -> DepartmentPage:
    rows, next_cursor = await keyset_page(
        session, repository.list_statement(retired=retired), key=Department.code, limit=limit, cursor=cursor
    )
    return DepartmentPage(items=await reads(session, rows, counted=counted), next_cursor=next_cursor)


async def create_department(session: AsyncSession, *, data: DepartmentCreate, actor_id: str) -> Department:
    if await repository.get(session, data.code) is not None:
        raise Conflict(f"department {data.code!r} exists already")
    now = utcnow()
    department = Department(
        **data.model_dump(), version=1, created_at=now, updated_at=now, updated_by=actor_id
    )
    session.add(department)
    if not await flush_new(session):  # created by a concurrent request
        raise Conflict(f"department {data.code!r} exists already")
    return department


async def update_department(
    session: AsyncSession, *, code: str, data: DepartmentUpdate, if_match: str | None, actor_id: str
) -> Department:
    department = await get_department(session, code=code, for_update=True)
    require_if_match(if_match, department.version)
    changes = data.model_dump(exclude_unset=True)
    retired = changes.pop("retired", None)
    now = utcnow()
    if retired is True and department.retired_at is None:
        await _check_unused(session, code)
        department.retired_at, department.retired_by = now, actor_id
        log.info("department %s retired by %s", code, actor_id)
    elif retired is False and department.retired_at is not None:
        department.retired_at = department.retired_by = None
        log.info("department %s brought back by %s", code, actor_id)
    for field, value in changes.items():
        setattr(department, field, value)
    department.version += 1
    department.updated_at = now
    department.updated_by = actor_id
    await session.flush()
    return department


async def _check_unused(session: AsyncSession, code: str) -> None:
    """409 while a category in use or a routing override sends cases to the department. The
    department's row is locked (``update_department``), and a category or an override is given
    a department only with its row locked, so none is added meanwhile."""
    categories, overrides = await repository.naming(session, code)
    if not categories and not overrides:
        return
    named = [f"categories {', '.join(f'{c.code} {c.name_zh}' for c in categories)}"] if categories else []
    named += [f"routing overrides {', '.join(str(o.id) for o in overrides)}"] if overrides else []
    raise Conflict(
        f"department {code!r} still handles {' and '.join(named)}: give them another department "
        "(PATCH /v1/catalog/{code}; DELETE /v1/routing/overrides/{id}) before retiring it",
        categories=[c.code for c in categories],
        overrides=[o.id for o in overrides],
    )
