"""dispatch's app on a clean database, grid and intake faked (``tests/dispatch/fakes.py``).

Callers authenticate with test tokens (``tests/support/tokens.py``) that the fake grid's JWKS
verifies. The actors below are the usual cast: each sees the demo case (cell ``CELL``,
department ``enforcement``, reported by ``wang.fang``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select, update

from services.dispatch.app import create_app
from services.dispatch.models import Base, Case, OutboxMessage
from services.dispatch.settings import DispatchSettings
from services.dispatch.supervision.escalation import Escalation
from shared.actors import Role
from shared.db import session_scope
from shared.outbox import Relay
from tests.dispatch import factories
from tests.dispatch.fakes import CELL, CLIENT_SECRET, FakeGrid, FakeIntake
from tests.support.tokens import bearer, service_bearer

INTAKE = service_bearer("intake")
DISPATCHER = bearer("li.dispatcher", Role.dispatcher)
SUPERVISOR = bearer("zhuang.hui", Role.supervisor)
ADMIN = bearer("pan.jun", Role.admin)
HANDLER = bearer("zhao.handler", Role.handler, department="enforcement")
WORKS_HANDLER = bearer("qian.handler", Role.handler, department="works")
WORKER = bearer("wang.fang", Role.grid_worker, regions=[CELL])

ROUND_THE_CLOCK = "00:00-24:00"

ACTOR_OF = {"accept": HANDLER, "return": HANDLER, "resolve": HANDLER, "verify": WORKER, "feedback": WORKER}
"""Who runs a command when a test does not say: the handler of enforcement, the demo case's
reporter (a grid worker of its cell), and the dispatcher for the rest."""


@dataclass
class Dispatch:
    app: FastAPI
    client: httpx.AsyncClient
    grid: FakeGrid
    intake: FakeIntake

    @property
    def relay(self) -> Relay:
        relay: Relay = self.app.state.relay
        return relay

    @property
    def escalation(self) -> Escalation:
        escalation: Escalation = self.app.state.escalation
        return escalation

    async def send(self, *payloads: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/internal/v1/inbox", json=factories.batch(*payloads), headers=INTAKE)

    async def deliver(self, *payloads: dict[str, Any]) -> list[dict[str, Any]]:
        response = await self.send(*payloads)
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    async def new_case(self, **overrides: Any) -> dict[str, Any]:
        """Deliver one report and return the detail of the case it opened or joined."""
        payload = factories.report(**overrides)
        await self.deliver(payload)
        return await self.case_of(payload["report_id"])

    async def case_of(self, report_id: str) -> dict[str, Any]:
        page = (await self.client.get("/v1/cases", params={"limit": 100}, headers=DISPATCHER)).json()
        for item in page["items"]:
            detail = await self.read(item["id"])
            if any(r["report_id"] == report_id for r in detail["reports"]):
                return detail
        raise AssertionError(f"no case holds report {report_id}")

    async def read(self, case_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/v1/cases/{case_id}", headers=DISPATCHER)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def act(
        self,
        case_id: int,
        action: str,
        body: dict[str, Any] | None = None,
        *,
        actor: dict[str, str] | None = None,
        if_match: str | None = "current",
    ) -> httpx.Response:
        """POST a command as ``actor`` (default: :data:`ACTOR_OF`); ``if_match="current"`` reads
        the case's ETag first (as the dispatcher, who sees every case), None sends none."""
        headers = dict(actor or ACTOR_OF.get(action, DISPATCHER))
        if if_match == "current":
            read = await self.client.get(f"/v1/cases/{case_id}", headers=DISPATCHER)
            headers["If-Match"] = read.headers.get("ETag", '"0"')
        elif if_match is not None:
            headers["If-Match"] = if_match
        return await self.client.post(f"/v1/cases/{case_id}/{action}", json=body, headers=headers)

    async def ok(
        self, case_id: int, action: str, body: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        response = await self.act(case_id, action, body, **kw)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def outbox(self) -> list[OutboxMessage]:
        async with session_scope(self.relay.session_maker) as session:
            return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())

    async def case_count(self) -> int:
        async with session_scope(self.relay.session_maker) as session:
            return int(await session.scalar(select(func.count()).select_from(Case)) or 0)

    async def set_case(self, case_id: int, **values: Any) -> None:
        """Move a case's clock-driven fields (closed_at, deadline_at) without waiting."""
        async with session_scope(self.relay.session_maker) as session:
            await session.execute(update(Case).where(Case.id == case_id).values(**values))


StartDispatch = Callable[..., AbstractAsyncContextManager[Dispatch]]


@pytest.fixture
async def database_url(clean_database: Any) -> str:
    return await clean_database("dispatch", Base.metadata)


@pytest.fixture
def start_dispatch(database_url: str, tmp_path: Path) -> StartDispatch:
    """``async with start_dispatch(grid, intake, **settings) as dispatch``."""

    @asynccontextmanager
    async def start(grid: FakeGrid, intake: FakeIntake, **settings: Any) -> AsyncIterator[Dispatch]:
        options: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": tmp_path,
            "client_secret": CLIENT_SECRET,
            "background_tasks": False,
            "relay_max_backoff_seconds": 0,
            "routing_cache_seconds": 0,
            # Round the clock, so that a deadline does not hang on the hour the suite runs;
            # tests/dispatch/calendar/ sets office hours.
            "working_hours": ROUND_THE_CLOCK,
            "working_weekdays": "mon-sun",
            **settings,
        }
        app = create_app(
            DispatchSettings(**options),
            transports={
                "grid": httpx.MockTransport(grid.handler),
                "intake": httpx.MockTransport(intake.handler),
            },
        )
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dispatch") as client:
                yield Dispatch(app=app, client=client, grid=grid, intake=intake)

    return start


@pytest.fixture
async def dispatch(start_dispatch: StartDispatch) -> AsyncIterator[Dispatch]:
    async with start_dispatch(FakeGrid(), FakeIntake()) as running:
        yield running
