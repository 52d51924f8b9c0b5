"""An operator's catalog file: departments and categories in one go (``wangge import-catalog``).

The file holds ``departments`` and/or ``categories``, each item the body its API create route
takes (``services/grid/seed/departments.json`` and ``catalog.json`` are examples, and a
starting point: the national urban-management event classification). All or nothing: one
item refused refuses the file, and the error names the item. A code grid has already is
kept as it is and reported; changes to it go through the API (``PATCH`` with ``If-Match``),
so running the same file again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.catalog import repository as categories
from services.grid.catalog import service as catalog
from services.grid.catalog.schemas import CategoryCreate
from services.grid.departments import repository as departments_repository
from services.grid.departments import service as departments
from services.grid.departments.schemas import DepartmentCreate
from shared.errors import Unprocessable

Item = TypeVar("Item", bound=BaseModel)

MAX_ITEMS = 2000
"""Per list: a subdistrict's catalog has a few hundred items."""


@dataclass
class CatalogImport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Codes grid had already: left as they are."""


async def import_catalog(session: AsyncSession, *, data: Mapping[str, Any], actor_id: str) -> CatalogImport:
    unknown = set(data) - {"departments", "categories", "description"}
    if unknown or not ({"departments", "categories"} & set(data)):
        raise Unprocessable("a catalog file holds `departments` and/or `categories` (and a `description`)")
    outcome = CatalogImport()
    for item in _items(data, "departments", DepartmentCreate):
        if await departments_repository.get(session, item.code) is not None:
            outcome.kept.append(f"department {item.code}")
        else:
            await departments.create_department(session, data=item, actor_id=actor_id)
            outcome.created.append(f"department {item.code}")
    for category in _items(data, "categories", CategoryCreate):
        if await categories.get(session, category.code) is not None:
            outcome.kept.append(f"category {category.code}")
        else:
            await catalog.create_category(session, data=category, actor_id=actor_id)
            outcome.created.append(f"category {category.code}")
    return outcome


def _items(data: Mapping[str, Any], key: str, model: type[Item]) -> list[Item]:
    raw = data.get(key, [])
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        raise Unprocessable(f"`{key}` is a list of at most {MAX_ITEMS} items")
    items = []
    for index, item in enumerate(raw):
        try:
            items.append(model.model_validate(item))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            code = item.get("code", "?") if isinstance(item, dict) else "?"
            raise Unprocessable(f"{key}[{index}] ({code}): {where}: {error['msg']}") from exc
    return items
