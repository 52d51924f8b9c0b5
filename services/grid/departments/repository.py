"""Queries on departments."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import Category, Department, RoutingOverride, Staff
from services.grid.staff.repository import can_sign_in


async def get(session: AsyncSession, code: str, *, for_update: bool = False) -> Department | None:
    """The row, or None; ``for_update`` locks it until the transaction ends (PostgreSQL: a
    change checks ``If-Match`` against the version it then writes over, never a stale one)."""
    return await session.get(Department, code, with_for_update=for_update, populate_existing=for_update)


async def lock_staffing(session: AsyncSession, code: str) -> Department | None:
    """The row, locked until the transaction ends against other changes taking handlers from
    the department, which then count its handlers one after the other (PostgreSQL). ``FOR NO
    KEY UPDATE``, not ``FOR UPDATE``: a staff row written naming the department takes a key
    share lock on it, and two handlers swapping departments at once would deadlock."""
    return await session.get(Department, code, with_for_update={"key_share": True}, populate_existing=True)


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


async def active_handlers(session: AsyncSession, codes: Iterable[str]) -> dict[str, int]:
    """How many active handlers each department has (0 for one with none), in one query: staff
    with the handler role who can sign in (active, with a password), as the last admin is
    counted. One with no password yet sees no case of the department."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Staff.department_code, func.count())
        .where(Staff.department_code.in_(wanted), Staff.role == "handler", can_sign_in())
        .group_by(Staff.department_code)
    )
    counts = dict.fromkeys(wanted, 0)
    counts.update({code: count for code, count in rows if code is not None})
    return counts


def list_statement(*, retired: bool = False) -> Select[Department]:
    return select(Department).where(
        Department.retired_at.is_not(None) if retired else Department.retired_at.is_(None)
    )


async def naming(session: AsyncSession, code: str) -> tuple[list[Category], list[RoutingOverride]]:
    """The categories in use and the routing overrides that send cases to the department."""
    categories = await session.scalars(
        select(Category)
        .where(Category.department_code == code, Category.retired_at.is_(None))
        .order_by(Category.code)
    )
    overrides = await session.scalars(
        select(RoutingOverride).where(RoutingOverride.department_code == code).order_by(RoutingOverride.id)
    )
    return list(categories), list(overrides)
