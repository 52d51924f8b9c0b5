"""Identity across three real processes: grid signs, intake and dispatch verify and scope."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import System, eventually, rubbish_in_the_cell_of

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_every_request_is_someone_and_sees_only_its_own_grid(system: System) -> None:
    admin = system.login("pan.jun")
    async with (
        httpx.AsyncClient(base_url=system.url("intake"), timeout=10) as intake,
        httpx.AsyncClient(base_url=system.url("dispatch"), timeout=10) as dispatch,
        httpx.AsyncClient(base_url=system.url("grid"), timeout=10) as grid,
    ):
        # Nobody: 401 everywhere but the public endpoints.
        for response in (
            await intake.get("/v1/reports"),
            await dispatch.get("/v1/cases"),
            await grid.get("/v1/staff"),
            await intake.get("/v1/reports", headers={"Authorization": "Bearer not-a-token"}),
        ):
            assert response.status_code == 401
            assert response.headers["www-authenticate"].lower().startswith("bearer")
            assert response.headers["content-type"].startswith("application/problem+json")
        assert (await grid.get("/.well-known/jwks.json")).status_code == 200

        # wang.fang (镇海) reports in one of her cells; it goes to sanitation (环卫站).
        worker = system.login("wang.fang")
        body = await rubbish_in_the_cell_of(grid, admin, "wang.fang", "暴露垃圾：镇海路口")
        report_id = body["id"]
        assert (await intake.post("/v1/reports", json=body, headers=worker)).status_code == 201

        async def case_id() -> int | None:
            seen = (await intake.get(f"/v1/reports/{report_id}", headers=worker)).json()
            return seen["case_id"] if seen["status"] == "dispatched" else None

        case = await eventually(case_id, what="the report to be dispatched")

        # Who sees it: the reporter, sanitation's handler, the dispatcher; not the police's
        # handler, nor a grid worker of another community — to them it does not exist.
        for username, status in [
            ("wang.fang", 200),
            ("ye.guiying", 200),
            ("hong.yi", 200),
            ("gao.peng", 404),
            ("zhang.wei", 404),
        ]:
            response = await dispatch.get(f"/v1/cases/{case}", headers=system.login(username))
            assert response.status_code == status, (username, response.text)
            listed = (
                await dispatch.get("/v1/cases", params={"limit": 100}, headers=system.login(username))
            ).json()
            assert (case in [c["id"] for c in listed["items"]]) == (status == 200), username

        # What they may do: a grid worker cannot accept (403); the handler can.
        etag = (await dispatch.get(f"/v1/cases/{case}", headers=worker)).headers["ETag"]
        refused = await dispatch.post(
            f"/v1/cases/{case}/accept", json={}, headers={**worker, "If-Match": etag}
        )
        assert refused.status_code == 403
        handler = system.login("ye.guiying")
        accepted = await dispatch.post(
            f"/v1/cases/{case}/accept", json={}, headers={**handler, "If-Match": etag}
        )
        assert accepted.status_code == 200
        timeline = accepted.json()["timeline"]
        assert (timeline[-1]["actor_id"], timeline[-1]["actor_role"]) == ("ye.guiying", "handler")

        # Internal endpoints refuse people, even admins.
        batch = {"messages": [{"topic": "report.received", "key": "x", "payload": {}}]}
        assert (await dispatch.post("/internal/v1/inbox", json=batch, headers=admin)).status_code == 403
        assert (await intake.post("/internal/v1/inbox", json=batch, headers=admin)).status_code == 403
