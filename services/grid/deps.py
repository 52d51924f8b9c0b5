"""The dependencies grid's routes take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.grid.settings import GridSettings
from services.grid.territory.index import TerritoryIndex
from shared.deps import CurrentActor, SessionDep

__all__ = ["CurrentActor", "SessionDep", "SettingsDep", "TerritoryDep"]


def get_settings(request: Request) -> GridSettings:
    settings: GridSettings = request.state.settings
    return settings


def get_territory(request: Request) -> TerritoryIndex:
    territory: TerritoryIndex = request.state.territory
    return territory


SettingsDep = Annotated[GridSettings, Depends(get_settings)]
TerritoryDep = Annotated[TerritoryIndex, Depends(get_territory)]
