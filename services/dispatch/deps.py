"""The dependencies dispatch's routes take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from services.dispatch.access import CurrentActor
from services.dispatch.clients.grid import GridClient
from services.dispatch.settings import DispatchSettings
from shared.deps import SessionDep

__all__ = ["CurrentActor", "GridDep", "IfMatch", "SessionDep", "SettingsDep"]


async def get_settings(request: Request) -> DispatchSettings:
    settings: DispatchSettings = request.state.settings
    return settings


async def get_grid(request: Request) -> GridClient:
    grid: GridClient = request.state.grid
    return grid


SettingsDep = Annotated[DispatchSettings, Depends(get_settings)]
GridDep = Annotated[GridClient, Depends(get_grid)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='the ETag of the case as last read, with its quotes ("3"), or *; required',
    ),
]
