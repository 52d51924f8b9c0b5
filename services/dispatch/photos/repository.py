"""The intake photos the timeline names."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import NamedPhoto
from shared.db import insert_of, one_of


async def add(session: AsyncSession, photo_ids: Sequence[uuid.UUID]) -> None:
    """Note the photos as named (those named before stay as they are)."""
    insert = insert_of(session.get_bind().dialect.name)
    statement: Any = (
        insert(cast(Table, NamedPhoto.__table__))
        .values([{"photo_id": photo_id} for photo_id in photo_ids])
        .on_conflict_do_nothing(index_elements=["photo_id"])
    )
    await session.execute(statement)


async def named_among(session: AsyncSession, photo_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    dialect = session.get_bind().dialect.name
    query = select(NamedPhoto.photo_id).where(one_of(NamedPhoto.photo_id, photo_ids, dialect))
    return sorted((await session.scalars(query)).all())
