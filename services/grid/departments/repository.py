"""Queries on departments."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import Department


async def get(session: AsyncSession, code: str, *, for_update: bool = False) -> Department | None:
    """The row, or None; ``for_update`` locks it until the transaction ends (PostgreSQL: a
    change checks ``If-Match`` against the version it then writes over, never a stale one)."""
    return await session.get(Department, code, with_for_update=for_update, populate_existing=for_update)


async def get_many(session: AsyncSession, codes: Iterable[str]) -> dict[str, Department]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await session.scalars(select(Department).where(Department.code.in_(wanted)))
    return {department.code: department for department in rows}


async def existing_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    wanted = sorted(set(codes))
    if not wanted:
        return set()
    return set(await session.scalars(select(Department.code).where(Department.code.in_(wanted))))


def list_statement() -> Select[Department]:
    return select(Department)
