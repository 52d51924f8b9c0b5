"""intake's app on a clean database, its peers faked (``tests/intake/fakes.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from services.intake.app import create_app
from services.intake.models import Base, OutboxMessage, Report
from services.intake.settings import IntakeSettings
from shared.actors import Role
from shared.db import session_scope
from shared.outbox import Relay
from tests.support.tokens import bearer, service_bearer

from .fakes import CELL_A1, INTAKE_SECRET, FakeDispatch, FakeGrid

REPORTER = bearer("wang.fang", Role.grid_worker, regions=[CELL_A1])
"""The client's default caller: a grid worker of cell A1."""
DISPATCH = service_bearer("dispatch")


@dataclass
class Intake:
    app: FastAPI
    client: httpx.AsyncClient
    grid: FakeGrid
    dispatch: FakeDispatch

    @property
    def relay(self) -> Relay:
        relay: Relay = self.app.state.relay
        return relay

    async def post_report(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        return await self.client.post("/v1/reports", json=body, headers=headers)

    async def outbox(self) -> list[OutboxMessage]:
        async with session_scope(self.app.state.relay.session_maker) as session:
            return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())

    async def report_count(self) -> int:
        async with session_scope(self.app.state.relay.session_maker) as session:
            return int(await session.scalar(select(func.count()).select_from(Report)) or 0)


StartIntake = Callable[..., AbstractAsyncContextManager[Intake]]


@pytest.fixture
async def database_url(clean_database: Any) -> str:
    return await clean_database("intake", Base.metadata)


@pytest.fixture
def start_intake(database_url: str) -> StartIntake:
    """``async with start_intake(grid, dispatch) as intake``: an app on the test database."""

    @asynccontextmanager
    async def start(
        grid: FakeGrid,
        dispatch: FakeDispatch,
        webhooks: httpx.MockTransport | None = None,
        **settings: Any,
    ) -> AsyncIterator[Intake]:
        options: dict[str, Any] = {
            "database_url": database_url,
            "background_tasks": False,
            "relay_max_backoff_seconds": 0,
            "client_secret": INTAKE_SECRET,
            **settings,
        }
        app = create_app(
            IntakeSettings(**options),
            transports={
                "grid": httpx.MockTransport(grid.handler),
                "dispatch": httpx.MockTransport(dispatch.handler),
                **({"webhooks": webhooks} if webhooks else {}),
            },
        )
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(manager.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://intake", headers=REPORTER
            ) as client:
                yield Intake(app, client, grid, dispatch)

    return start


@pytest.fixture
async def intake(start_intake: StartIntake) -> AsyncIterator[Intake]:
    """intake with its territory loaded from the fake grid."""
    async with start_intake(FakeGrid(), FakeDispatch()) as running:
        await running.app.state.territory.refresh()
        yield running


@pytest.fixture
async def intake_without_territory(start_intake: StartIntake) -> AsyncIterator[Intake]:
    """intake started while grid is down: no territory loaded."""
    grid = FakeGrid()
    grid.down = True
    async with start_intake(grid, FakeDispatch()) as running:
        yield running
