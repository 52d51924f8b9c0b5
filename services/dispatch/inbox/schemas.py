"""The ``report.received`` payload as dispatch accepts it: the contract plus our column limits."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictFloat, StringConstraints, field_validator

from shared.messages import ReportReceived
from shared.schemas import Timestamp


class InboundReport(ReportReceived):
    category: str | None = Field(max_length=64)
    description: str = Field(max_length=10_000)
    lat: StrictFloat = Field(ge=-90, le=90)  # a number, as intake sends it: not "24.45" or true
    lon: StrictFloat = Field(ge=-180, le=180)
    address: str | None = Field(default=None, max_length=500)
    grid_cell: str | None = Field(max_length=32)
    community: str | None = Field(default=None, max_length=32)
    reporter_id: str = Field(min_length=1, max_length=64)
    channel: str = Field(min_length=1, max_length=32)
    photos: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=20
    )
    seen_at: Timestamp  # with its offset, and far enough from year 1 and 9999 to do arithmetic on
    received_at: Timestamp

    @field_validator("category", "grid_cell", "community", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
