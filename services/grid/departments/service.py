"""Departments: the units cases are dispatched to."""

from __future__ import annotations

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


async def get_department(session: AsyncSession, *, code: str, for_update: bool = False) -> Department:
    department = await repository.get(session, code, for_update=for_update)
    if department is None:
        raise NotFound(f"no department {code!r}")
    return department


async def list_departments(session: AsyncSession, *, limit: int, cursor: str | None) -> DepartmentPage:
    rows, next_cursor = await keyset_page(
        session, repository.list_statement(), key=Department.code, limit=limit, cursor=cursor
    )
    return DepartmentPage(items=[DepartmentRead.model_validate(r) for r in rows], next_cursor=next_cursor)


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
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(department, field, value)
    department.version += 1
    department.updated_at = utcnow()
    department.updated_by = actor_id
    await session.flush()
    return department
