"""grid: the territory and the people — regions, locate, departments, catalog, routing, staff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.grid.settings import GridSettings
from shared.api import create_service_app
from shared.db import create_engine, create_session_maker


class State(TypedDict):
    settings: GridSettings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]


def create_app(settings: GridSettings | None = None) -> FastAPI:
    settings = settings or GridSettings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[State]:
        engine = create_engine(settings.database_url)
        try:
            yield State(settings=settings, engine=engine, session_maker=create_session_maker(engine))
        finally:
            await engine.dispose()

    return create_service_app(
        title="wangge grid",
        description=__doc__ or "",
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        routers=[],
    )
