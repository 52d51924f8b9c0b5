"""The dependencies grid's routes take.

``CurrentActor`` here is the actor grid's access dependency (:mod:`services.grid.access`)
verified for the request: grid checks its own tokens with its own public key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.access import require_actor
from services.grid.identity.context import Identity
from services.grid.settings import GridSettings
from services.grid.territory.index import TerritoryIndex
from shared.actors import Actor
from shared.deps import SessionDep

__all__ = ["CurrentActor", "IdentityDep", "SessionDep", "SessionMakerDep", "SettingsDep", "TerritoryDep"]


async def get_settings(request: Request) -> GridSettings:
    settings: GridSettings = request.state.settings
    return settings


async def get_territory(request: Request) -> TerritoryIndex:
    territory: TerritoryIndex = request.state.territory
    return territory


async def get_identity(request: Request) -> Identity:
    identity: Identity = request.state.identity
    return identity


async def get_session_maker(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.state.session_maker
    return maker


SettingsDep = Annotated[GridSettings, Depends(get_settings)]
TerritoryDep = Annotated[TerritoryIndex, Depends(get_territory)]
IdentityDep = Annotated[Identity, Depends(get_identity)]
SessionMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_session_maker)]
CurrentActor = Annotated[Actor, Depends(require_actor)]
