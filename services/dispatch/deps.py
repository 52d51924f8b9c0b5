"""The dependencies dispatch's routes take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.dispatch.settings import DispatchSettings
from shared.deps import CurrentActor, SessionDep

__all__ = ["CurrentActor", "SessionDep", "SettingsDep"]


def get_settings(request: Request) -> DispatchSettings:
    settings: DispatchSettings = request.state.settings
    return settings


SettingsDep = Annotated[DispatchSettings, Depends(get_settings)]
