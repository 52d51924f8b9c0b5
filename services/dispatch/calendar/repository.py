"""The working calendar's queries."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import CalendarDay, CalendarYear


async def year(session: AsyncSession, number: int, *, for_update: bool = False) -> CalendarYear | None:
    query = select(CalendarYear).where(CalendarYear.year == number)
    if for_update:
        query = query.with_for_update()
    found: CalendarYear | None = (await session.execute(query)).scalar_one_or_none()
    return found


async def days_of(session: AsyncSession, number: int) -> list[CalendarDay]:
    query = select(CalendarDay).where(CalendarDay.year == number).order_by(CalendarDay.day)
    return list((await session.execute(query)).scalars())


async def days_from(session: AsyncSession, first: date) -> list[CalendarDay]:
    """Every set day from ``first`` on: what deadlines from now on may meet."""
    query = select(CalendarDay).where(CalendarDay.day >= first).order_by(CalendarDay.day)
    return list((await session.execute(query)).scalars())


async def replace_days(session: AsyncSession, number: int, days: list[CalendarDay]) -> None:
    await session.execute(delete(CalendarDay).where(CalendarDay.year == number))
    session.add_all(days)
    await session.flush()
