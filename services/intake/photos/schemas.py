"""A photo as its upload answers it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from shared.schemas import ResponseModel


class PhotoRead(ResponseModel):
    id: uuid.UUID
    url: str = Field(description="the photo: put it in a report's or a case command's `photos`")
    thumbnail_url: str = Field(description="its thumbnail, 320 pixels on the longer side")
    content_type: str = Field(description="always image/jpeg: every photo is encoded again")
    width: int
    height: int
    size: int = Field(description="bytes of the photo as kept")
    created_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5f0c8f6e-2b1d-4c59-9a53-0d1e6f7a8b90",
                    "url": "https://intake.example.org/v1/photos/5f0c8f6e-2b1d-4c59-9a53-0d1e6f7a8b90",
                    "thumbnail_url": "https://intake.example.org/v1/photos/5f0c8f6e-2b1d-4c59-9a53-0d1e6f7a8b90/thumbnail",
                    "content_type": "image/jpeg",
                    "width": 2048,
                    "height": 1536,
                    "size": 412803,
                    "created_at": "2026-12-06T02:14:05Z",
                }
            ]
        }
    )
