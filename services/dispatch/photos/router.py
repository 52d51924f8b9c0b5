"""``POST /internal/v1/named-photos``: which of intake's photos a case's timeline names."""

from __future__ import annotations

from fastapi import APIRouter

from services.dispatch.access import GUARDED
from services.dispatch.deps import SessionDep
from services.dispatch.photos import service
from shared.errors import Forbidden, Unauthorized, problem_responses
from shared.photos import NamedPhotos, NamedPhotosQuery

router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=GUARDED)


@router.post(
    "/named-photos",
    response_model=NamedPhotos,
    responses=problem_responses(Unauthorized, Forbidden),
)
async def named_photos(query: NamedPhotosQuery, session: SessionDep) -> NamedPhotos:
    """Of the photo ids asked (at most 500), those an event of a case's timeline names by
    their URL (a resolution's photos, a check's, a note's).

    Only intake may call it (its service token, ``service:intake``), before it deletes the
    photos no report names that were uploaded longer ago than its retention period: it keeps
    those named here.
    """
    return await service.named(session, query)
