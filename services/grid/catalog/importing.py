"""An operator's catalog files: departments and categories in one go (``wangge import-catalog``).

A file holds ``departments`` and/or ``categories`` (and a ``description``), each item the body
its API create route takes (``services/grid/seed/departments.json`` and ``catalog.json`` are
examples, and a starting point: the national urban-management event classification). All or
nothing: any problem refuses every file, and the error names the file, the list, the item and
its code. A code grid has already is kept as it is and reported; changes to it go through the
API (``PATCH`` with ``If-Match``), so running the same files again changes nothing. The
departments of every file go in before the categories, which may name them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.catalog import repository as categories_repository
from services.grid.catalog import service as catalog
from services.grid.catalog.schemas import CategoryCreate
from services.grid.departments import repository as departments_repository
from services.grid.departments import service as departments
from services.grid.departments.schemas import DepartmentCreate
from shared.errors import Unprocessable, WanggeError

Item = TypeVar("Item", bound=BaseModel)

MAX_ITEMS = 2000
"""Per list: a subdistrict's catalog has a few hundred items."""

KEYS = ("departments", "categories")


@dataclass
class CatalogImport:
    """(kind, code) of each item: ``department`` or ``category``."""

    created: list[tuple[str, str]] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    """Codes grid had already: left as they are."""


async def import_catalog(
    session: AsyncSession, *, files: Sequence[tuple[str, Mapping[str, Any]]], actor_id: str
) -> CatalogImport:
    """``files``: (a name for messages, the parsed JSON) each. Raises ``Unprocessable``."""
    found: dict[str, list[tuple[str, Any]]] = {"departments": [], "categories": []}
    for name, data in files:
        if not isinstance(data, Mapping) or set(data) - {*KEYS, "description"} or not set(KEYS) & set(data):
            raise Unprocessable(
                f"{name}: a catalog file holds `departments` and/or `categories` (and a `description`)"
            )
        for key in KEYS:
            found[key] += [(f"{name}: {key}[{i}]", item) for i, item in enumerate(_list(name, data, key))]
    outcome = CatalogImport()
    kinds: tuple[tuple[str, type[BaseModel], Any, Any], ...] = (
        ("department", DepartmentCreate, departments_repository.get, departments.create_department),
        ("category", CategoryCreate, categories_repository.get, catalog.create_category),
    )
    for key, (kind, model, stored, create) in zip(KEYS, kinds, strict=True):
        for where, item in _parsed(found[key], model):
            code: str = getattr(item, "code")  # noqa: B009 (both models have one)
            if await stored(session, code) is not None:
                outcome.kept.append((kind, code))
                continue
            await _creating(where, create(session, data=item, actor_id=actor_id))
            outcome.created.append((kind, code))
    return outcome


def _list(name: str, data: Mapping[str, Any], key: str) -> list[Any]:
    items = data.get(key, [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise Unprocessable(f"{name}: `{key}` is a list of at most {MAX_ITEMS} items")
    return items


def _parsed(items: list[tuple[str, Any]], model: type[Item]) -> list[tuple[str, Item]]:
    """Every item validated (the first refusal names it), and no code twice."""
    parsed: list[tuple[str, Item]] = []
    first: dict[str, str] = {}
    for where, item in items:
        code = item.get("code", "?") if isinstance(item, dict) else "?"
        try:
            value = model.model_validate(item)
        except ValidationError as exc:
            error = exc.errors()[0]
            field_name = ".".join(str(part) for part in error["loc"])
            raise Unprocessable(f"{where} ({code}): {field_name}: {error['msg']}") from exc
        if code in first:
            raise Unprocessable(f"{where} ({code}): the code comes twice (first at {first[code]})")
        first[code] = where
        parsed.append((where, value))
    return parsed


async def _creating(where: str, creation: Any) -> None:
    try:
        await creation
    except WanggeError as exc:  # e.g. a category naming a department there is not
        raise Unprocessable(f"{where}: {exc.detail}") from exc
