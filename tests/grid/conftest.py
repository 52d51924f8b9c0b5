"""grid's app, clients and direct sessions, on a clean database of each backend.

``client`` acts as the admin ``pan.jun`` (a token grid itself signed); ``anonymous`` sends
no token; ``bearer(role, ...)`` gives the headers of any actor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.app import create_app
from services.grid.identity.context import Identity
from services.grid.models import Base
from services.grid.settings import GridSettings
from shared.actors import Actor, Role
from shared.db import create_engine, create_session_maker
from tests.conftest import CleanDatabase

ADMIN = Actor(id="pan.jun", role=Role.admin, name="潘军")

Bearer = Callable[..., dict[str, str]]


@pytest.fixture
async def grid_url(clean_database: CleanDatabase) -> str:
    return await clean_database("grid", Base.metadata)


@pytest.fixture
def grid_settings(grid_url: str, tmp_path: Path) -> GridSettings:
    # check_seconds=0: locate reads the territory version on every request, so tests need no sleeps.
    return GridSettings(
        database_url=grid_url, environment="test", data_dir=tmp_path / "var", territory_check_seconds=0
    )


@pytest.fixture
async def grid_app(grid_settings: GridSettings) -> AsyncIterator[FastAPI]:
    """The running app: ``app.state.territory`` is its locate index, ``app.state.identity`` its keys."""
    app = create_app(grid_settings)
    async with LifespanManager(app) as manager:
        app.state.asgi = manager.app  # the app with the lifespan state attached
        yield app


@pytest.fixture
def identity(grid_app: FastAPI) -> Identity:
    found: Identity = grid_app.state.identity
    return found


@pytest.fixture
def bearer(identity: Identity) -> Bearer:
    """``bearer("grid_worker", id="wang.fang", regions=[...])`` → ``Authorization`` headers."""

    def headers(role: Role | str, **fields: Any) -> dict[str, str]:
        role = Role(role)
        fields.setdefault("id", "service:intake" if role is Role.service else f"test.{role.value}")
        token = identity.issuer.issue(Actor(role=role, **fields)).token
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
async def anonymous(grid_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=grid_app.state.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://grid") as c:
        yield c


@pytest.fixture
async def client(grid_app: FastAPI, identity: Identity) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=grid_app.state.asgi)
    headers = {"Authorization": f"Bearer {identity.issuer.issue(ADMIN).token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://grid", headers=headers) as c:
        yield c


@pytest.fixture
async def sessions(grid_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on their own engine: another process (the CLI) writing to grid's database."""
    engine = create_engine(grid_url)
    try:
        yield create_session_maker(engine)
    finally:
        await engine.dispose()
