"""The dependencies intake's routes take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake.settings import IntakeSettings
from services.intake.territory.service import Territory
from shared.deps import CurrentActor, SessionDep

__all__ = ["CurrentActor", "SessionDep", "SettingsDep", "TerritoryDep"]


async def get_settings(request: Request) -> IntakeSettings:
    settings: IntakeSettings = request.state.settings
    return settings


async def get_territory(request: Request) -> Territory:
    territory: Territory = request.state.territory
    return territory


SettingsDep = Annotated[IntakeSettings, Depends(get_settings)]
TerritoryDep = Annotated[Territory, Depends(get_territory)]
