"""The photos' statements. The pictures' bytes are read only where they are served."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, RowMapping, Table, delete, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import Photo
from shared.db import insert_of

DESCRIBED = (Photo.id, Photo.uploader_id, Photo.width, Photo.height, Photo.size, Photo.created_at)
"""A photo without its bytes."""


async def by_upload(session: AsyncSession, uploader_id: str, upload_sha256: str) -> RowMapping | None:
    query = select(*DESCRIBED).where(Photo.uploader_id == uploader_id, Photo.upload_sha256 == upload_sha256)
    return (await session.execute(query)).mappings().first()


async def added_since(
    session: AsyncSession, uploader_id: str, since: datetime, *, limit: int
) -> tuple[int, datetime | None]:
    """How many photos the uploader added since ``since``, and, when they are ``limit`` or more,
    when the one was added whose leaving the period leaves fewer than ``limit`` (the first, when
    they are exactly ``limit``)."""
    recent = (Photo.uploader_id == uploader_id, Photo.created_at > since)
    count = await session.scalar(select(func.count()).where(*recent)) or 0
    if count < limit:
        return count, None
    nth = select(Photo.created_at).where(*recent).order_by(Photo.created_at).offset(count - limit).limit(1)
    return count, await session.scalar(nth)


async def add_if_absent(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Insert the photo unless its uploader sent the same bytes already (two uploads at once of
    one picture: one inserts, the other waits for it and inserts nothing); whether this one did."""
    insert = insert_of(session.get_bind().dialect.name)
    statement: Any = (
        insert(cast(Table, Photo.__table__))
        .values(row)
        .on_conflict_do_nothing(index_elements=["uploader_id", "upload_sha256"])
        .returning(literal_column("1"))
    )
    return (await session.execute(statement)).first() is not None


async def picture(session: AsyncSession, photo_id: uuid.UUID, *, thumbnail: bool) -> Row[str, bytes] | None:
    """(uploader_id, the JPEG's bytes) of a photo or its thumbnail."""
    column = Photo.thumbnail if thumbnail else Photo.content
    query = select(Photo.uploader_id, column).where(Photo.id == photo_id)
    return (await session.execute(query)).first()


async def remove(session: AsyncSession, photo_id: uuid.UUID) -> bool:
    """Delete the photo; whether there was one."""
    statement = delete(Photo).where(Photo.id == photo_id).returning(Photo.id)
    return (await session.execute(statement)).first() is not None
