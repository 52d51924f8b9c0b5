"""A dispatcher sending a case to a department nobody there can see it in is told so: the
dispatch (or reassignment) goes through, since the office may be about to staff it, and its
answer's ``warnings``, and dispatch's log, say that the case will wait unseen.

The last test runs the real grid beside dispatch: dispatch's own service token reads the
department's ``active_handlers``, which counts only handlers who can sign in.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from services.dispatch.app import create_app as create_dispatch
from services.dispatch.models import Base as DispatchBase
from services.dispatch.settings import DispatchSettings
from services.grid.app import create_app as create_grid
from services.grid.models import Base as GridBase
from services.grid.settings import GridSettings
from shared.actors import Actor, Role
from tests.conftest import CleanDatabase
from tests.dispatch import factories
from tests.dispatch.conftest import ROUND_THE_CLOCK, Dispatch
from tests.dispatch.fakes import CLIENT_SECRET, FakeIntake

MARKET_UNSTAFFED = (
    "department market (工商所) has no active handler who can sign in: "
    "the case will wait unseen until one is assigned or given a password"
)
POLICE_UNSTAFFED = MARKET_UNSTAFFED.replace("market (工商所)", "police (派出所)")


def staffed(dispatch: Dispatch, code: str, count: int | None) -> None:
    """grid counts ``count`` handlers who can sign in in department ``code`` (None: says nothing)."""
    department = {**dispatch.grid.departments[code], "active_handlers": count}
    if count is None:
        del department["active_handlers"]
    dispatch.grid.departments[code] = department


async def test_a_case_sent_where_nobody_can_see_it_goes_with_a_warning(
    dispatch: Dispatch, caplog: pytest.LogCaptureFixture
) -> None:
    staffed(dispatch, "market", 0)
    triage = await dispatch.new_case(category=None)
    caplog.set_level(logging.WARNING, logger="wangge.dispatch.cases")

    sent = await dispatch.ok(triage["id"], "dispatch", {"department_code": "market"})

    assert (sent["status"], sent["department_code"]) == ("dispatched", "market")
    assert sent["warnings"] == [MARKET_UNSTAFFED]
    assert caplog.messages == [f"case {sent['case_number']} dispatched by li.dispatcher: {MARKET_UNSTAFFED}"]
    assert caplog.records[0].levelno == logging.WARNING
    assert "warnings" not in await dispatch.read(triage["id"])  # the answer's, not the case's

    caplog.clear()
    staffed_again = await dispatch.ok(triage["id"], "reassign", {"department_code": "works"})
    assert (staffed_again["department_code"], staffed_again["warnings"]) == ("works", [])
    assert caplog.messages == []
    back = await dispatch.ok(triage["id"], "reassign", {"department_code": "market"})
    assert back["warnings"] == [MARKET_UNSTAFFED]
    assert caplog.messages == [f"case {back['case_number']} reassigned by li.dispatcher: {MARKET_UNSTAFFED}"]


async def test_a_grid_that_does_not_count_handlers_is_no_warning(dispatch: Dispatch) -> None:
    staffed(dispatch, "market", None)
    triage = await dispatch.new_case(category=None)
    sent = await dispatch.ok(triage["id"], "dispatch", {"department_code": "market"})
    assert (sent["status"], sent["warnings"]) == ("dispatched", [])


async def test_the_openapi_documents_the_warnings_of_dispatch_and_reassign(dispatch: Dispatch) -> None:
    schema = (await dispatch.client.get("/openapi.json")).json()
    for command in ("dispatch", "reassign", "accept"):
        answer = schema["paths"][f"/v1/cases/{{case_id}}/{command}"]["post"]["responses"]["200"]
        ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        warnings = schema["components"]["schemas"][ref]["properties"].get("warnings")
        if command == "accept":
            assert warnings is None  # the other commands answer the case as before
        else:
            assert "no active handler who can sign in" in warnings["description"]
            assert warnings["items"] == {"type": "string"}


class Office:
    """grid and dispatch in one process: grid's admin staffs departments, dispatch's dispatcher
    sends cases, with tokens grid signs."""

    def __init__(self, grid: httpx.AsyncClient, dispatch: httpx.AsyncClient, issue: Any) -> None:
        self.grid, self.dispatch, self.issue = grid, dispatch, issue

    def headers(self, actor: Actor) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issue(actor).token}"}

    async def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        admin = Actor(id="pan.jun", role=Role.admin, name="潘军")
        response = await self.grid.request(
            method, path, headers=self.headers(admin) | kw.pop("headers", {}), **kw
        )
        assert response.is_success, response.text
        return response

    async def triage_case(self) -> dict[str, Any]:
        intake = Actor(id="service:intake", role=Role.service, name="intake", scopes=["internal"])
        payload = factories.report(category=None)  # a triage case: no routing question to grid
        sent = await self.dispatch.post(
            "/internal/v1/inbox", json=factories.batch(payload), headers=self.headers(intake)
        )
        assert sent.status_code == 200, sent.text
        dispatcher = Actor(id="hong.yi", role=Role.dispatcher, name="洪毅")
        page = (await self.dispatch.get("/v1/cases", headers=self.headers(dispatcher))).json()
        case: dict[str, Any] = page["items"][0]
        return case

    async def send(self, case_id: int, command: str, department_code: str) -> dict[str, Any]:
        dispatcher = self.headers(Actor(id="hong.yi", role=Role.dispatcher, name="洪毅"))
        etag = (await self.dispatch.get(f"/v1/cases/{case_id}", headers=dispatcher)).headers["etag"]
        response = await self.dispatch.post(
            f"/v1/cases/{case_id}/{command}",
            json={"department_code": department_code},
            headers=dispatcher | {"If-Match": etag},
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


@asynccontextmanager
async def office(clean_database: CleanDatabase, tmp_path: Path) -> AsyncIterator[Office]:
    grid_app = create_grid(
        GridSettings(
            database_url=await clean_database("grid", GridBase.metadata),
            environment="test",
            data_dir=tmp_path / "grid",
            service_secrets={"dispatch": CLIENT_SECRET},
        )
    )
    async with LifespanManager(grid_app) as grid_manager:
        dispatch_app = create_dispatch(
            DispatchSettings(
                database_url=await clean_database("dispatch", DispatchBase.metadata),
                data_dir=tmp_path / "dispatch",
                client_secret=CLIENT_SECRET,
                background_tasks=False,
                working_hours=ROUND_THE_CLOCK,
                working_weekdays="mon-sun",
            ),
            transports={
                "grid": httpx.ASGITransport(app=grid_manager.app),
                "intake": httpx.MockTransport(FakeIntake().handler),
            },
        )
        async with (
            LifespanManager(dispatch_app) as dispatch_manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=grid_manager.app), base_url="http://grid"
            ) as grid,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=dispatch_manager.app), base_url="http://dispatch"
            ) as dispatch,
        ):
            yield Office(grid, dispatch, grid_app.state.identity.issuer.issue)


async def test_with_grid_a_handler_without_a_password_or_inactive_sees_nothing(
    clean_database: CleanDatabase, tmp_path: Path
) -> None:
    """工商所's only handler was made without a password, 派出所's is deactivated: a case sent to
    either is warned about; once the handler can sign in, it is not."""
    async with office(clean_database, tmp_path) as it:
        for code, name in (("market", "工商所"), ("police", "派出所")):
            await it.admin("POST", "/v1/departments", json={"code": code, "name_zh": name, "name_en": code})
        for username, code in (("ke.jianhua", "market"), ("gao.peng", "police")):
            person = {"username": username, "name": username, "role": "handler", "department_code": code}
            await it.admin("POST", "/v1/staff", json=person)
        await it.admin("PUT", "/v1/staff/gao.peng/password", json={"password": "wangge-police"})
        first, second = await it.triage_case(), await it.triage_case()

        assert (await it.send(first["id"], "dispatch", "market"))["warnings"] == [MARKET_UNSTAFFED]
        assert (await it.send(second["id"], "dispatch", "police"))["warnings"] == []

        etag = (await it.admin("GET", "/v1/staff/gao.peng")).headers["etag"]
        await it.admin("PATCH", "/v1/staff/gao.peng", json={"active": False}, headers={"If-Match": etag})
        assert (await it.send(first["id"], "reassign", "police"))["warnings"] == [POLICE_UNSTAFFED]

        await it.admin("PUT", "/v1/staff/ke.jianhua/password", json={"password": "wangge-market"})
        moved = await it.send(second["id"], "reassign", "market")
        assert (moved["department_code"], moved["warnings"]) == ("market", [])
