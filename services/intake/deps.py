"""The dependencies intake's routes take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake.settings import IntakeSettings
from shared.deps import CurrentActor, SessionDep

__all__ = ["CurrentActor", "SessionDep", "SettingsDep"]


def get_settings(request: Request) -> IntakeSettings:
    settings: IntakeSettings = request.state.settings
    return settings


SettingsDep = Annotated[IntakeSettings, Depends(get_settings)]
