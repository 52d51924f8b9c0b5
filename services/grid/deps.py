"""The dependencies grid's routes take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.grid.settings import GridSettings
from shared.deps import CurrentActor, SessionDep

__all__ = ["CurrentActor", "SessionDep", "SettingsDep"]


def get_settings(request: Request) -> GridSettings:
    settings: GridSettings = request.state.settings
    return settings


SettingsDep = Annotated[GridSettings, Depends(get_settings)]
