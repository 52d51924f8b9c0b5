"""Queries on the catalog."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import Category


async def get(session: AsyncSession, code: str) -> Category | None:
    return await session.get(Category, code)


def list_statement(*, class_name: str | None, department: str | None) -> Select[Category]:
    statement = select(Category)
    if class_name is not None:
        statement = statement.where(or_(Category.class_zh == class_name, Category.class_en == class_name))
    if department is not None:
        statement = statement.where(Category.department_code == department)
    return statement
