"""Photos: the reporter's picture of the problem, the handler's of the work done.

An app uploads a picture's bytes (``POST /v1/photos``), gets the photo's URL back, and names
that URL in a report's ``photos`` or a case command's (resolve, verify, note). intake keeps the
photo as ``imaging.py`` makes it, in its own database, and serves it to the staff who read the
reports and cases it is on. The id in its URL is random: it is not found by guessing.

The same uploader sending the same bytes again (a phone's retry after a lost answer) gets the
same photo back, with 200 instead of 201: the upload needs no ``Idempotency-Key``.

A photo nothing names is deleted once it has waited ``WANGGE_INTAKE_PHOTO_UNATTACHED_DAYS``
(``retention.py``); its wait starts at the upload, and again at each upload of its same bytes,
which the app is about to name.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from types import MappingProxyType
from typing import Any

import anyio
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.access import can_read_photo
from services.intake.photos import imaging, repository
from services.intake.photos.schemas import PhotoRead
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import NotFound, RequestTimeout, ServiceUnavailable, TooManyRequests, Unprocessable
from shared.photos import PHOTOS_PATH

log = logging.getLogger("wangge.intake.photos")


class Busy(ServiceUnavailable):
    type, title = "busy", "Too many photos at once"
    headers: Mapping[str, str] | None = MappingProxyType({"Retry-After": "2"})


class DailyLimitReached(TooManyRequests):
    type, title = "photo-daily-limit", "Too many photos today"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


DAY = timedelta(hours=24)


class Darkroom:
    """Where uploads are developed into the photos kept: at most ``workers`` at once, each in a
    worker thread, so the event loop goes on taking reports while a 12-megapixel picture is
    decoded, and memory holds no more than ``workers`` decoded pictures.

    At most ``admitted`` uploads are taken in at once, read or waiting for a worker (each holds
    its body, up to the photo bound, in memory); one more is a 503 with ``Retry-After`` before
    its body is read. A body that takes longer than ``read_seconds`` to arrive is a 408: a
    caller sending slowly on purpose holds a place that long at most.

    One uploader adds at most ``daily_limit`` photos in 24 hours: a phone app stuck in a loop
    fills no disk."""

    def __init__(
        self,
        *,
        max_edge: int,
        max_pixels: int,
        workers: int,
        daily_limit: int,
        read_seconds: float = 120.0,
        admitted: int | None = None,
    ) -> None:
        self.daily_limit = daily_limit
        self.read_seconds = read_seconds
        self.max_edge = max_edge
        self.max_pixels = max_pixels
        self.limiter = anyio.CapacityLimiter(workers)
        self.admitted = admitted if admitted is not None else 4 * workers
        self.inside = 0

    @asynccontextmanager
    async def admission(self) -> AsyncIterator[None]:
        if self.inside >= self.admitted:
            raise Busy(f"{self.inside} photos are being taken in; retry in a moment")
        self.inside += 1
        try:
            yield
        finally:
            self.inside -= 1

    async def read(self, request: Request) -> bytes:
        """The upload's body, or a 408 once it has taken ``read_seconds`` to arrive."""
        try:
            async with asyncio.timeout(self.read_seconds):
                return await request.body()
        except TimeoutError:
            within = f"{self.read_seconds:g} s"
            raise RequestTimeout(f"the photo did not arrive within {within}: send it again") from None

    async def develop(self, data: bytes) -> imaging.Processed:
        work = partial(imaging.process, data, max_edge=self.max_edge, max_pixels=self.max_pixels)
        try:
            return await anyio.to_thread.run_sync(work, limiter=self.limiter)
        except imaging.NotAPhoto as error:
            raise Unprocessable(str(error)) from None


async def upload(
    session: AsyncSession, darkroom: Darkroom, *, data: bytes, uploader: Actor, base_url: str
) -> tuple[PhotoRead, bool]:
    """The photo made of ``data``, and whether it is new (the uploader's same bytes again: the
    photo made the first time)."""
    if not data:
        raise Unprocessable("the body is empty: send the picture's bytes")
    digest = await anyio.to_thread.run_sync(_sha256, data)  # 9 ms for 10 MiB: off the event loop
    known = await repository.by_upload(session, uploader.id, digest)
    if known is not None and await _kept(session, known["id"]):
        return _read(known, base_url), False
    await _check_daily_limit(session, uploader.id, darkroom.daily_limit)
    # The look-up wrote nothing: end its transaction, so that the connection goes back to the
    # pool while the picture is developed (a quarter of a second, longer while others wait for
    # a worker). Held, it kept SQLite's only connection from every report and every read.
    await session.rollback()
    developed = await darkroom.develop(data)
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "uploader_id": uploader.id,
        "upload_sha256": digest,
        "width": developed.width,
        "height": developed.height,
        "size": len(developed.content),
        "content": developed.content,
        "thumbnail": developed.thumbnail,
        "created_at": utcnow(),
    }
    if not await repository.add_if_absent(session, row):  # the same upload, at the same time
        known = await repository.by_upload(session, uploader.id, digest)
        assert known is not None
        return _read(known, base_url), False
    await repository.await_naming(session, row["id"], row["created_at"])
    return _read(row, base_url), True


async def _kept(session: AsyncSession, photo_id: uuid.UUID) -> bool:
    """Whether the photo the same bytes made is still there, to be answered again. One nothing
    names yet waits from now on: the app is about to name it. One deleted since it was read
    (its wait was over) is made again."""
    if await repository.wait_again(session, photo_id, utcnow()):
        return True
    return await repository.exists(session, photo_id)


async def picture(session: AsyncSession, *, photo_id: uuid.UUID, actor: Actor, thumbnail: bool) -> bytes:
    """The JPEG of a photo (or of its thumbnail) the actor may see; any other is a 404."""
    found = await repository.picture(session, photo_id, thumbnail=thumbnail)
    if found is None or not can_read_photo(actor, uploader_id=found[0]):
        raise NotFound(f"no photo {photo_id}")
    return found[1]


async def remove(session: AsyncSession, *, photo_id: uuid.UUID, actor: Actor) -> None:
    """Delete a photo for good (an admin, e.g. for a person's right to have their picture
    removed): its URL answers 404 from then on, wherever a report or a case names it."""
    if not await repository.remove(session, photo_id):
        raise NotFound(f"no photo {photo_id}")
    log.warning("photo %s removed by %s", photo_id, actor.id)


async def _check_daily_limit(session: AsyncSession, uploader_id: str, limit: int) -> None:
    now = utcnow()
    # More than the limit when the limit was lowered, or uploads at once all passed this check:
    # the retry is due when enough of them left the 24 hours, not the first.
    added, leaving = await repository.added_since(session, uploader_id, now - DAY, limit=limit)
    if leaving is not None:
        retry_after = max(1, math.ceil((leaving + DAY - now).total_seconds()))
        raise DailyLimitReached(
            f"{added} photos were added in the last 24 hours, at most {limit} are taken "
            f"(WANGGE_INTAKE_PHOTO_DAILY_LIMIT); retry in {retry_after} s",
            retry_after=retry_after,
        )


def photo_url(base_url: str, photo_id: uuid.UUID) -> str:
    return f"{base_url.rstrip('/')}{PHOTOS_PATH}/{photo_id}"


def _read(fields: Mapping[Any, Any], base_url: str) -> PhotoRead:
    url = photo_url(base_url, fields["id"])
    return PhotoRead(
        id=fields["id"],
        url=url,
        thumbnail_url=f"{url}/thumbnail",
        content_type="image/jpeg",
        width=fields["width"],
        height=fields["height"],
        size=fields["size"],
        created_at=fields["created_at"],
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
