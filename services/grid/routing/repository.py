"""Queries on routing overrides."""

from __future__ import annotations

from collections.abc import Sequence

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
    session: AsyncSession, *, category_code: str, region_codes: Sequence[str]
) -> Sequence[RoutingOverride]:
    rows = await session.scalars(
        select(RoutingOverride).where(
            RoutingOverride.category_code == category_code, RoutingOverride.region_code.in_(region_codes)
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
