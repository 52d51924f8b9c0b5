"""The photos' statements. The pictures' bytes are read only where they are served.

A photo nothing names yet has an ``unattached_photos`` row (:class:`UnattachedPhoto`); the
report that names it deletes the row (``services/intake/reports/repository.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, RowMapping, Table, delete, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import Photo, UnattachedPhoto
from shared.db import insert_of, one_of

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


async def exists(session: AsyncSession, photo_id: uuid.UUID) -> bool:
    return await session.scalar(select(Photo.id).where(Photo.id == photo_id)) is not None


async def await_naming(session: AsyncSession, photo_id: uuid.UUID, since: datetime) -> None:
    """Note the new photo as named by nothing yet, waiting since ``since``."""
    session.add(UnattachedPhoto(photo_id=photo_id, uploaded_at=since))
    await session.flush()


async def wait_again(session: AsyncSession, photo_id: uuid.UUID, since: datetime) -> bool:
    """Start the wait of a photo nothing names again, ``since``; whether it was waiting (False:
    something names it, or it was just deleted)."""
    statement = (
        update(UnattachedPhoto)
        .where(UnattachedPhoto.photo_id == photo_id)
        .values(uploaded_at=since)
        .returning(UnattachedPhoto.photo_id)
    )
    return (await session.execute(statement)).first() is not None


async def waiting_since_before(session: AsyncSession, cutoff: datetime, *, limit: int) -> list[uuid.UUID]:
    """The photos nothing named that have waited since before ``cutoff``, the longest first."""
    query = (
        select(UnattachedPhoto.photo_id)
        .where(UnattachedPhoto.uploaded_at < cutoff)
        .order_by(UnattachedPhoto.uploaded_at)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def named(session: AsyncSession, photo_ids: Sequence[uuid.UUID]) -> None:
    """Note the photos as named: they wait no more, and are kept."""
    if photo_ids:
        dialect = session.get_bind().dialect.name
        await session.execute(
            delete(UnattachedPhoto).where(one_of(UnattachedPhoto.photo_id, photo_ids, dialect))
        )


async def remove_unnamed(
    session: AsyncSession, photo_ids: Sequence[uuid.UUID], cutoff: datetime
) -> list[uuid.UUID]:
    """Delete those of the photos that are still waiting since before ``cutoff``; the ids deleted.

    In one statement: a photo a report named meanwhile has no row left to wait with, and on
    PostgreSQL one whose row a report's transaction is deleting right now (locked, still
    uncommitted) is passed over (``SKIP LOCKED``), as is one whose upload again restarts its
    wait. SQLite has one writer at a time: the statement runs before such a transaction or
    after it. The row goes with the photo (``ON DELETE CASCADE``)."""
    if not photo_ids:
        return []
    dialect = session.get_bind().dialect.name
    waiting = (
        select(UnattachedPhoto.photo_id)
        .where(one_of(UnattachedPhoto.photo_id, photo_ids, dialect), UnattachedPhoto.uploaded_at < cutoff)
        .with_for_update(skip_locked=True)
    )
    statement = (
        delete(Photo)
        .where(Photo.id.in_(waiting))
        .returning(Photo.id)
        .execution_options(synchronize_session=False)
    )
    return list((await session.scalars(statement)).all())
