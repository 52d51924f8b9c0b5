"""Photos: upload a picture, see it and its thumbnail."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response

from services.intake.access import GUARDED
from services.intake.deps import CurrentActor, DarkroomDep, SessionDep, public_url
from services.intake.photos import service
from services.intake.photos.schemas import PhotoRead
from shared.errors import (
    Forbidden,
    NotFound,
    RequestTimeout,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    problem_responses,
)
from shared.etags import not_modified
from shared.schemas import CANONICAL_UUID

router = APIRouter(prefix=service.PHOTOS_PATH, tags=["photos"], dependencies=GUARDED)

UPLOAD_TYPES = ("image/jpeg", "image/png", "image/webp")
MISLABELS = frozenset({"image/jpg", "image/pjpeg"})
"""What Android apps and old browsers send for a JPEG: taken as image/jpeg (the picture is
decoded by what it is, not by its label)."""
BINARY = {"schema": {"type": "string", "format": "binary"}}
CACHED_FOR_A_YEAR = "private, max-age=31536000, immutable"
"""A photo never changes under its URL; only the caller's own browser may keep it."""


@router.post(
    "",
    status_code=201,
    response_model=PhotoRead,
    summary="Upload a photo",
    responses={
        200: {"model": PhotoRead, "description": "the same picture uploaded before by the same caller"},
        **problem_responses(
            Unauthorized,
            Forbidden,
            RequestTimeout,
            UnsupportedMediaType,
            Unprocessable,
            TooManyRequests,
            ServiceUnavailable,
        ),
    },
    openapi_extra={"requestBody": {"required": True, "content": dict.fromkeys(UPLOAD_TYPES, BINARY)}},
)
async def upload_photo(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    darkroom: DarkroomDep,
) -> Response:
    """Send a picture's bytes as the body, `Content-Type` image/jpeg, image/png or image/webp
    (HEIC: convert it on the phone), at most 10 MiB (`WANGGE_INTAKE_PHOTO_MAX_BYTES`) and 50
    megapixels. The answer's `url` is what a report's or a case command's `photos` name.

    intake keeps the picture turned upright, scaled to 2,048 pixels on its longer side and
    encoded again as JPEG, without the original's metadata (no GPS position, no camera
    details), and a thumbnail of it. The same caller sending the same bytes again (a retry)
    gets the same photo with 200.

    At most four uploads per photo worker are taken in at once (two workers: eight); one
    more is a 503 with `Retry-After` before its body is read. One caller adds at most 1,000
    photos in 24 hours (`WANGGE_INTAKE_PHOTO_DAILY_LIMIT`); one more is a 429 with
    `Retry-After` (the same bytes again still answer 200). A body that takes more than two
    minutes to arrive (`WANGGE_INTAKE_PHOTO_READ_SECONDS`) is a 408, and the connection closes.

    Every staff role, and integrations whose key has `reports:create`.
    """
    # Read here, not as a Header() parameter: OpenAPI ignores a Content-Type parameter, which
    # the request body's media types already document.
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in UPLOAD_TYPES and media_type not in MISLABELS:
        raise UnsupportedMediaType(
            f"send the picture's bytes as {', '.join(UPLOAD_TYPES)}; "
            f"the body was {media_type[:100] or 'sent without a Content-Type'}"
        )
    async with darkroom.admission():  # before the body is read: it is held until developed
        data = await darkroom.read(request)
        photo, created = await service.upload(
            session, darkroom, data=data, uploader=actor, base_url=public_url(request)
        )
    return Response(
        photo.model_dump_json(),
        201 if created else 200,
        {"Location": f"{service.PHOTOS_PATH}/{photo.id}"},
        media_type="application/json",
    )


JPEG = {"content": {"image/jpeg": BINARY}}
ETAG = {
    "ETag": {
        "description": "the photo's (its thumbnail's), which never changes: send it back as "
        "`If-None-Match` to get a 304",
        "schema": {"type": "string", "examples": ['"5f0c8f6e-2b1d-4c59-9a53-0d1e6f7a8b90-t"']},
    }
}
SERVED: dict[int | str, dict[str, Any]] = {
    200: {**JPEG, "description": "the JPEG", "headers": ETAG},
    304: {"description": "the ETag in If-None-Match is this photo's", "headers": ETAG},
    **problem_responses(Unauthorized, Forbidden, NotFound),
}


@router.get("/{photo_id}", response_class=Response, summary="See a photo", responses=SERVED)
async def get_photo(
    photo_id: Annotated[uuid.UUID, Path(), CANONICAL_UUID],
    session: SessionDep,
    actor: CurrentActor,
    if_none_match: Annotated[str | None, Header(max_length=512)] = None,
) -> Response:
    """The photo as a JPEG. Staff see any photo (its URL reaches them on a report or a case);
    an integration (`reports:read`) sees those it uploaded. A browser page shows it by fetching
    it with the token and handing the blob to an `<img>` (`URL.createObjectURL`)."""
    return await _serve(session, photo_id, actor, if_none_match, thumbnail=False)


@router.get(
    "/{photo_id}/thumbnail",
    response_class=Response,
    summary="See a photo's thumbnail",
    responses=SERVED,
)
async def get_thumbnail(
    photo_id: Annotated[uuid.UUID, Path(), CANONICAL_UUID],
    session: SessionDep,
    actor: CurrentActor,
    if_none_match: Annotated[str | None, Header(max_length=512)] = None,
) -> Response:
    """The photo at 320 pixels on its longer side, as a JPEG, for lists and timelines; the same
    readers as the photo."""
    return await _serve(session, photo_id, actor, if_none_match, thumbnail=True)


@router.delete(
    "/{photo_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a photo",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def remove_photo(
    photo_id: Annotated[uuid.UUID, Path(), CANONICAL_UUID], session: SessionDep, actor: CurrentActor
) -> Response:
    """Delete a photo and its thumbnail for good (admins): a person's picture that must go,
    one sent by mistake. Its URL answers 404 from then on wherever a report or a case names it
    (a browser that showed it may keep its copy). The removal is logged with who made it."""
    await service.remove(session, photo_id=photo_id, actor=actor)
    return Response(status_code=204)


async def _serve(
    session: SessionDep,
    photo_id: uuid.UUID,
    actor: CurrentActor,
    if_none_match: str | None,
    *,
    thumbnail: bool,
) -> Response:
    jpeg = await service.picture(session, photo_id=photo_id, actor=actor, thumbnail=thumbnail)
    tag = f'"{photo_id}{"-t" if thumbnail else ""}"'
    headers = {"ETag": tag, "Cache-Control": CACHED_FOR_A_YEAR, "X-Content-Type-Options": "nosniff"}
    if not_modified(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    return Response(jpeg, media_type="image/jpeg", headers=headers)
