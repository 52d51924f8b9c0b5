"""intake's whole API fuzzed (``tests/support/fuzz.py``) with reports, a photo, a webhook and
their updates in its database, its peers faked; each route called by the most privileged
caller its access rule lets in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.intake.access import POLICY
from services.intake.app import create_app
from services.intake.models import Base
from services.intake.settings import IntakeSettings
from shared.actors import Actor, Role
from tests.support import fuzz, tokens

from .factories import photo_bytes, report_body, status_changed
from .fakes import CELL_A1, INTAKE_SECRET, POINT_IN_B1, FakeDispatch, FakeGrid

pytestmark = [fuzz.ON_POSTGRESQL, pytest.mark.xdist_group("fuzz-intake")]

schema = fuzz.load(create_app(IntakeSettings(environment="test")))

REPORTER = Actor(id="wang.fang", role=Role.grid_leader, regions=[CELL_A1])
BOT = Actor(id="integration:ak_bot1", role=Role.integration, scopes=["reports:create", "reports:read"])
CALLERS = (
    Actor(id="pan.jun", role=Role.admin),
    REPORTER,
    BOT,
    Actor(id="service:dispatch", role=Role.service, scopes=["internal"]),
)


def intake(url: str) -> FastAPI:
    settings = IntakeSettings(
        database_url=url,
        environment="test",
        background_tasks=False,
        relay_max_backoff_seconds=0,
        client_secret=INTAKE_SECRET,
        seen_at_max_age_days=36_500,  # the examples' and the fuzz's times of any year since 1970
    )
    grid, dispatch = FakeGrid(), FakeDispatch()
    transports = {
        "grid": httpx.MockTransport(grid.handler),
        "dispatch": httpx.MockTransport(dispatch.handler),
    }
    return create_app(settings, transports=transports)


async def seeded_database() -> str:
    """Two reports, one dispatched, with a photo; the bot's webhook and one of its reports."""
    url = await fuzz.fresh_database("intake", Base.metadata)
    app = intake(url)
    async with LifespanManager(app) as manager:
        await app.state.territory.refresh()
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:

            async def call(method: str, path: str, caller: Actor, **kw: Any) -> dict[str, Any]:
                headers = {"Authorization": f"Bearer {tokens.token(caller)}", **kw.pop("headers", {})}
                response = await client.request(method, path, headers=headers, **kw)
                assert response.is_success, response.text
                return dict(response.json())

            photo = await call(
                "POST", "/v1/photos", REPORTER, content=photo_bytes(), headers={"Content-Type": "image/jpeg"}
            )
            first = await call("POST", "/v1/reports", REPORTER, json=report_body(photos=[photo["url"]]))
            await call("POST", "/v1/reports", REPORTER, json=report_body(point=POINT_IN_B1))
            await call("POST", "/v1/reports", BOT, json=report_body())
            await call("PUT", "/v1/webhook", BOT, json={"url": "https://bot.example.org/wangge"})
            message = status_changed([first["id"]], event_id=1, status="dispatched")
            dispatch = CALLERS[-1]
            await call("POST", "/internal/v1/inbox", dispatch, json={"messages": [message]})
    return url


@pytest.fixture(scope="module", params=fuzz.BACKEND)
def app() -> Iterator[FastAPI]:
    with fuzz.running(intake(asyncio.run(seeded_database()))) as running:
        yield running


@pytest.fixture(scope="module")
def by_route() -> dict[tuple[str, str], str | None]:
    return fuzz.tokens_for(POLICY, CALLERS)


@schema.parametrize()
@fuzz.SETTINGS
def test_fuzz(case: schemathesis.Case, app: FastAPI, by_route: dict[tuple[str, str], str | None]) -> None:
    case.call_and_validate(app=app, headers=fuzz.headers_for(case, by_route))
