"""Which of intake's photos the cases' timelines name.

An event's photos are URLs, any ``http(s)`` one; those that name a photo kept by intake
(``shared.photos.photo_id``) are noted in ``named_photos`` in the event's own transaction.
intake, before it deletes the photos nothing named within its retention period, asks which of
them are noted here, and keeps those.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.photos import repository
from shared.photos import NamedPhotos, NamedPhotosQuery, photo_ids


async def note_named(session: AsyncSession, urls: Sequence[str]) -> None:
    """Note the intake photos among ``urls``, which an event of the timeline names."""
    named = photo_ids(urls)
    if named:
        await repository.add(session, named)


async def named(session: AsyncSession, query: NamedPhotosQuery) -> NamedPhotos:
    return NamedPhotos(named=await repository.named_among(session, query.ids))
