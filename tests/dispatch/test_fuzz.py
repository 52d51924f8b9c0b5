"""dispatch's whole API fuzzed (``tests/support/fuzz.py``) with cases in each of the states a
working day leaves them in, its peers faked; each route called by the most privileged caller
its access rule lets in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.dispatch.access import POLICY
from services.dispatch.app import create_app
from services.dispatch.models import Base
from services.dispatch.settings import DispatchSettings
from shared.actors import Actor, Role
from tests.support import fuzz, tokens

from . import factories
from .conftest import ROUND_THE_CLOCK
from .fakes import CELL, CLIENT_SECRET, MANHOLE, OTHER, FakeGrid, FakeIntake

pytestmark = [fuzz.ON_POSTGRESQL, pytest.mark.xdist_group("fuzz-dispatch")]

schema = fuzz.load(create_app(DispatchSettings(environment="test")))

INTAKE = Actor(id="service:intake", role=Role.service, scopes=["internal"])
SUPERVISOR = Actor(id="zhuang.hui", role=Role.supervisor)
HANDLER = Actor(id="zhao.handler", role=Role.handler, department="enforcement")
CALLERS = (
    Actor(id="pan.jun", role=Role.admin),
    SUPERVISOR,
    HANDLER,
    Actor(id="wang.fang", role=Role.grid_leader, regions=[CELL]),
    INTAKE,
)


def dispatch(url: str, data_dir: Path) -> FastAPI:
    settings = DispatchSettings(
        database_url=url,
        environment="test",
        data_dir=data_dir,
        client_secret=CLIENT_SECRET,
        background_tasks=False,
        relay_max_backoff_seconds=0,
        routing_cache_seconds=0,
        working_hours=ROUND_THE_CLOCK,
        working_weekdays="mon-sun",
    )
    grid, intake = FakeGrid(), FakeIntake()
    transports = {"grid": httpx.MockTransport(grid.handler), "intake": httpx.MockTransport(intake.handler)}
    return create_app(settings, transports=transports)


async def seeded_database(data_dir: Path) -> str:
    """Cases in triage, dispatched, in progress and resolved."""
    url = await fuzz.fresh_database("dispatch", Base.metadata)
    app = dispatch(url, data_dir)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dispatch") as client:

            async def call(caller: Actor, path: str, body: dict[str, Any], etag: str | None = None) -> str:
                headers = {"Authorization": f"Bearer {tokens.token(caller)}"}
                if etag is not None:
                    headers["If-Match"] = etag
                response = await client.post(path, json=body, headers=headers)
                assert response.is_success, response.text
                return response.headers.get("ETag", "")

            # 0.01° of latitude apart: each report opens a case of its own
            reports = [
                factories.report(lat=factories.LAT + 0.01 * n, **fields)
                for n, fields in enumerate([{}, {}, {}, {"category": MANHOLE}, {"category": OTHER}])
            ]
            await call(INTAKE, "/internal/v1/inbox", factories.batch(*reports))
            # cases 1-4 are dispatched (4 to works), 5 waits in triage
            await call(HANDLER, "/v1/cases/2/accept", {}, "*")
            etag = await call(HANDLER, "/v1/cases/3/accept", {}, "*")
            await call(HANDLER, "/v1/cases/3/resolve", {"note": "摊位已清理"}, etag)
    return url


@pytest.fixture(scope="module", params=fuzz.BACKEND)
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data_dir = tmp_path_factory.mktemp("dispatch")
    with fuzz.running(dispatch(asyncio.run(seeded_database(data_dir)), data_dir)) as running:
        yield running


@pytest.fixture(scope="module")
def by_route() -> dict[tuple[str, str], str | None]:
    return fuzz.tokens_for(POLICY, CALLERS)


@schema.parametrize()
@fuzz.SETTINGS
def test_fuzz(case: schemathesis.Case, app: FastAPI, by_route: dict[tuple[str, str], str | None]) -> None:
    case.call_and_validate(app=app, headers=fuzz.headers_for(case, by_route))
