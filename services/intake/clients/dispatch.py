"""intake's client for dispatch: posts outbox batches to dispatch's inbox (``post_inbox``), and
asks which photos a case's timeline names (``named_photos``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from shared.peer import PeerClient
from shared.photos import MAX_NAMED_QUERY, NAMED_PHOTOS_PATH, NamedPhotos


class DispatchClient(PeerClient):
    peer = "dispatch"

    async def named_photos(self, photo_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of the photos an event of a case's timeline names, asked at most
        ``MAX_NAMED_QUERY`` at a time."""
        named: set[uuid.UUID] = set()
        for start in range(0, len(photo_ids), MAX_NAMED_QUERY):
            asked = [str(photo_id) for photo_id in photo_ids[start : start + MAX_NAMED_QUERY]]
            response = await self.request("POST", NAMED_PHOTOS_PATH, json={"ids": asked})
            named.update(NamedPhotos.model_validate(response.json()).named)
        return named
