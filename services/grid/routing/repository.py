"""Queries on routing overrides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import RoutingOverride


async def get(session: AsyncSession, override_id: int) -> RoutingOverride | None:
    return await session.get(RoutingOverride, override_id)


async def find(session: AsyncSession, *, region_code: str, category_code: str) -> RoutingOverride | None:
    return await session.scalar(
        select(RoutingOverride).where(
            RoutingOverride.region_code == region_code, RoutingOverride.category_code == category_code
        )
    )


async def for_regions(
    session: AsyncSession, *, category_codes: Iterable[str], region_codes: Iterable[str]
) -> Sequence[RoutingOverride]:
    """The overrides of any of the categories on any of the regions."""
    categories, regions = sorted(set(category_codes)), sorted(set(region_codes))
    if not categories or not regions:
        return []
    rows = await session.scalars(
        select(RoutingOverride).where(
            RoutingOverride.category_code.in_(categories), RoutingOverride.region_code.in_(regions)
        )
    )
    return rows.all()


def list_statement(*, region: str | None, category: str | None) -> Select[RoutingOverride]:
    statement = select(RoutingOverride)
    if region is not None:
        statement = statement.where(RoutingOverride.region_code == region)
    if category is not None:
        statement = statement.where(RoutingOverride.category_code == category)
    return statement
