"""grid's app, client and direct sessions, on a clean database of each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.app import create_app
from services.grid.models import Base
from services.grid.settings import GridSettings
from shared.actors import Actor, Role
from shared.db import create_engine, create_session_maker
from tests.conftest import CleanDatabase

ADMIN = Actor(id="pan.jun", role=Role.admin)


@pytest.fixture
async def grid_url(clean_database: CleanDatabase) -> str:
    return await clean_database("grid", Base.metadata)


@pytest.fixture
def grid_settings(grid_url: str) -> GridSettings:
    # check_seconds=0: locate reads the territory version on every request, so tests need no sleeps.
    return GridSettings(database_url=grid_url, environment="test", territory_check_seconds=0)


@pytest.fixture
async def grid_app(grid_settings: GridSettings) -> AsyncIterator[FastAPI]:
    """The running app: ``app.state.territory`` is its locate index."""
    app = create_app(grid_settings)
    async with LifespanManager(app) as manager:
        app.state.asgi = manager.app  # the app with the lifespan state attached
        yield app


@pytest.fixture
async def client(grid_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=grid_app.state.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://grid", headers=ADMIN.headers()) as c:
        yield c


@pytest.fixture
async def sessions(grid_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on their own engine: another process (the CLI) writing to grid's database."""
    engine = create_engine(grid_url)
    try:
        yield create_session_maker(engine)
    finally:
        await engine.dispose()
