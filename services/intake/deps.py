"""The dependencies intake's routes take."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake.access import CurrentActor
from services.intake.photos.service import Darkroom
from services.intake.reports.service import Reception
from shared.deps import SessionDep

__all__ = ["CurrentActor", "DarkroomDep", "ReceptionDep", "SessionDep"]


async def get_reception(request: Request) -> Reception:
    reception: Reception = request.state.reception
    return reception


ReceptionDep = Annotated[Reception, Depends(get_reception)]


async def get_darkroom(request: Request) -> Darkroom:
    darkroom: Darkroom = request.state.darkroom
    return darkroom


DarkroomDep = Annotated[Darkroom, Depends(get_darkroom)]
