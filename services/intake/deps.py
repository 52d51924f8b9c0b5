"""The dependencies intake's routes take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake.access import CurrentActor
from services.intake.photos.service import Darkroom
from services.intake.reports.service import Reception
from services.intake.settings import IntakeSettings
from shared.deps import SessionDep

__all__ = ["CurrentActor", "DarkroomDep", "ReceptionDep", "SessionDep", "public_url"]


async def get_reception(request: Request) -> Reception:
    reception: Reception = request.state.reception
    return reception


ReceptionDep = Annotated[Reception, Depends(get_reception)]


async def get_darkroom(request: Request) -> Darkroom:
    darkroom: Darkroom = request.state.darkroom
    return darkroom


DarkroomDep = Annotated[Darkroom, Depends(get_darkroom)]


def public_url(request: Request) -> str:
    """intake as its clients reach it, for the URLs it hands out (a photo's, Open311's
    endpoint): ``WANGGE_INTAKE_PUBLIC_URL``, else the URL the request came to; no trailing slash."""
    settings: IntakeSettings = request.state.settings
    return (settings.public_url or str(request.base_url)).rstrip("/")
