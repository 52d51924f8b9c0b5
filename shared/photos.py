"""The photos intake keeps, as the other services name them.

An app uploads a picture to intake (``POST /v1/photos``) and names the URL it gets back in a
report's ``photos`` (intake's own table) or in a case command's (resolve, verify, note: dispatch's
timeline). intake deletes a photo nothing named within ``WANGGE_INTAKE_PHOTO_UNATTACHED_DAYS``;
before it does, it asks dispatch which of them a case's timeline names
(``POST /internal/v1/named-photos``: :class:`NamedPhotosQuery`, answered :class:`NamedPhotos`).

A URL names a photo of intake by its path, whatever its host: intake hands out URLs under
``WANGGE_INTAKE_PUBLIC_URL`` or under the URL each upload came to, and either may have changed
since. Another system's URL of the same shape would name a random id no photo has.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from shared.schemas import RequestModel

PHOTOS_PATH = "/v1/photos"
NAMED_PHOTOS_PATH = "/internal/v1/named-photos"

MAX_NAMED_QUERY = 500
"""Ids one question to dispatch holds at most."""

_PHOTO_PATH = re.compile(
    rf"{PHOTOS_PATH}/([0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}})"
    r"(?:/thumbnail)?/?$"
)


def photo_id(url: str) -> uuid.UUID | None:
    """The id of the intake photo ``url`` names (the photo's URL or its thumbnail's), or None."""
    try:
        path = urlsplit(url).path
    except ValueError:  # an unbalanced [ in the host: no URL of intake's
        return None
    found = _PHOTO_PATH.search(path)
    return uuid.UUID(found.group(1)) if found else None


def photo_ids(urls: Iterable[str]) -> list[uuid.UUID]:
    """The intake photos ``urls`` name, each once, in order (rows locked in one order everywhere)."""
    return sorted({found for url in urls if (found := photo_id(url)) is not None})


class NamedPhotosQuery(RequestModel):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_NAMED_QUERY)


class NamedPhotos(BaseModel):
    named: list[uuid.UUID] = Field(description="those of the ids a case's timeline names")
