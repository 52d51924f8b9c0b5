"""grid: the territory and the people — regions, locate, departments, catalog, routing, staff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TypedDict

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.grid.catalog.router import router as catalog_router
from services.grid.departments.router import router as departments_router
from services.grid.regions.router import router as regions_router
from services.grid.routing.router import router as routing_router
from services.grid.settings import GridSettings
from services.grid.staff.router import router as staff_router
from services.grid.territory.index import TerritoryIndex
from services.grid.territory.router import router as territory_router
from shared.api import create_service_app
from shared.db import create_engine, create_session_maker


class State(TypedDict):
    settings: GridSettings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    territory: TerritoryIndex


def create_app(
    settings: GridSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The grid app. grid calls no peer, so ``transports`` is unused; it is kept for symmetry."""
    settings = settings or GridSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        engine = create_engine(settings.database_url)
        territory = TerritoryIndex(check_seconds=settings.territory_check_seconds)
        app.state.territory = territory
        try:
            yield State(
                settings=settings,
                engine=engine,
                session_maker=create_session_maker(engine),
                territory=territory,
            )
        finally:
            await engine.dispose()

    return create_service_app(
        title="wangge grid",
        description=__doc__ or "",
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        routers=[
            regions_router,
            territory_router,
            departments_router,
            catalog_router,
            routing_router,
            staff_router,
        ],
    )
