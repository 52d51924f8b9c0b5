"""Queries on the catalog."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import Category


async def get(session: AsyncSession, code: str, *, for_update: bool = False) -> Category | None:
    """The row, or None; ``for_update`` locks it until the transaction ends (PostgreSQL: a
    change checks ``If-Match`` against the version it then writes over, never a stale one)."""
    return await session.get(Category, code, with_for_update=for_update, populate_existing=for_update)


async def get_many(session: AsyncSession, codes: Iterable[str]) -> dict[str, Category]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await session.scalars(select(Category).where(Category.code.in_(wanted)))
    return {category.code: category for category in rows}


def list_statement(
    *, class_name: str | None, department: str | None, retired: bool = False
) -> Select[Category]:
    statement = select(Category).where(
        Category.retired_at.is_not(None) if retired else Category.retired_at.is_(None)
    )
    if class_name is not None:
        statement = statement.where(or_(Category.class_zh == class_name, Category.class_en == class_name))
    if department is not None:
        statement = statement.where(Category.department_code == department)
    return statement
