"""The responsibility catalog: which department handles what, how urgently, in how many hours.

A category is never deleted (reports and cases carry its code); an admin retires it
(``retired: true``) when a revision of the 权责清单 drops it or merges it into another. A
retired category is no longer listed (but with ``retired=true``), so the app and Open311 stop
offering it, nor routed: grid's routing answers it as it answers a code the catalog does not
hold, and dispatch puts a report that still names it (an app offline since) in triage for a
dispatcher. Reading it by code still works. ``retired: false`` brings it back, with its routing
overrides, which stay. No category in use names a retired department.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.catalog import repository
from services.grid.catalog.schemas import CategoryCreate, CategoryPage, CategoryRead, CategoryUpdate
from services.grid.departments import repository as departments
from services.grid.models import Category
from services.grid.pagination import keyset_page
from shared.db import flush_new, utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.etags import require_if_match


async def get_category(session: AsyncSession, *, code: str, for_update: bool = False) -> Category:
    category = await repository.get(session, code, for_update=for_update)
    if category is None:
        raise NotFound(f"no category {code!r} in the catalog")
    return category


async def list_categories(
    session: AsyncSession,
    *,
    class_name: str | None,
    department: str | None,
    retired: bool = False,
    limit: int,
    cursor: str | None,
) -> CategoryPage:
    statement = repository.list_statement(class_name=class_name, department=department, retired=retired)
    rows, next_cursor = await keyset_page(session, statement, key=Category.code, limit=limit, cursor=cursor)
    return CategoryPage(items=[CategoryRead.model_validate(r) for r in rows], next_cursor=next_cursor)


async def _check_department(session: AsyncSession, code: str | None) -> None:
    """422 unless ``code`` is none or a department in use, whose row stays locked until the
    transaction ends: a retirement of it waits, then sees the category (and refuses)."""
    if code is None:
        return
    department = await departments.get(session, code, for_update=True)
    if department is None:
        raise Unprocessable(f"no department {code!r}", field="department_code")
    if department.retired_at is not None:
        raise Unprocessable(f"department {code!r} is retired", field="department_code")


async def create_category(session: AsyncSession, *, data: CategoryCreate, actor_id: str) -> Category:
    if await repository.get(session, data.code) is not None:
        raise Conflict(f"category {data.code!r} exists already")
    await _check_department(session, data.department_code)
    now = utcnow()
    values = data.model_dump(mode="json")
    category = Category(**values, version=1, created_at=now, updated_at=now, updated_by=actor_id)
    session.add(category)
    if not await flush_new(session):  # created by a concurrent request
        raise Conflict(f"category {data.code!r} exists already")
    return category


async def update_category(
    session: AsyncSession, *, code: str, data: CategoryUpdate, if_match: str | None, actor_id: str
) -> Category:
    category = await get_category(session, code=code, for_update=True)
    require_if_match(if_match, category.version)
    changes = data.model_dump(mode="json", exclude_unset=True)
    retired = changes.pop("retired", None)
    now = utcnow()
    brought_back = retired is False and category.retired_at is not None
    if "department_code" in changes or brought_back:
        # a category brought back with the department it had, retired since: name another
        await _check_department(session, changes.get("department_code", category.department_code))
    if retired is True and category.retired_at is None:
        category.retired_at, category.retired_by = now, actor_id
    elif brought_back:
        category.retired_at = category.retired_by = None
    for field, value in changes.items():
        setattr(category, field, value)
    category.version += 1
    category.updated_at = now
    category.updated_by = actor_id
    await session.flush()
    return category
