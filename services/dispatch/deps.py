"""The dependencies dispatch's routes take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from services.dispatch.access import CurrentActor
from services.dispatch.calendar.service import Calendar
from services.dispatch.clients.grid import GridClient
from services.dispatch.settings import DispatchSettings
from shared.deps import SessionDep
from shared.idempotency import MAX_KEY_LENGTH

__all__ = [
    "AppendingIfMatch",
    "CalendarDep",
    "CurrentActor",
    "GridDep",
    "IdempotencyKey",
    "IfMatch",
    "SessionDep",
    "SettingsDep",
]


async def get_settings(request: Request) -> DispatchSettings:
    settings: DispatchSettings = request.state.settings
    return settings


async def get_grid(request: Request) -> GridClient:
    grid: GridClient = request.state.grid
    return grid


async def get_calendar(request: Request) -> Calendar:
    calendar: Calendar = request.state.calendar
    return calendar


CalendarDep = Annotated[Calendar, Depends(get_calendar)]
SettingsDep = Annotated[DispatchSettings, Depends(get_settings)]
GridDep = Annotated[GridClient, Depends(get_grid)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="retry key: the same key from the same person on the same case answers the case "
        "as it stands and writes nothing again",
        examples=["0b6f2c3e-8d2a-4a43-9d57-0e6f1c7c1a01"],
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='the ETag as last read, with its quotes ("3"), or *; required',
    ),
]
AppendingIfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='the ETag as last read, with its quotes ("3"), or *; optional for a command that '
        "only appends (checked when sent)",
    ),
]
"""``If-Match`` of a note, an urging, a request for more time (``service.locked_to_append``)."""
