"""An Open311 client (a city's existing app, a hotline's system) files a request and follows it
to its close: three real processes, a real API key, GeoReport v2's form and answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import System, eventually, integration_key, rubbish_in_the_cell_of, signed_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


async def test_an_open311_request_is_dispatched_handled_and_closed(system: System) -> None:
    admin = system.login("pan.jun")
    async with (
        httpx.AsyncClient(base_url=system.url("intake"), timeout=10) as intake,
        httpx.AsyncClient(base_url=system.url("dispatch"), timeout=10) as dispatch,
        httpx.AsyncClient(base_url=system.url("grid"), timeout=10) as grid,
    ):
        # GeoReport v2's way: the key in each request, no token
        key = await integration_key(grid, admin, name="12345 热线", channel="open311")
        client = {"api_key": key}

        services = (await intake.get("/open311/v2/services.json", params=client)).json()
        rubbish = next(s for s in services if s["service_code"] == "0101")
        assert rubbish["service_name"] and rubbish["type"] == "realtime"

        point = (await rubbish_in_the_cell_of(grid, admin, "wang.fang", ""))["location"]
        filed = await intake.post(
            "/open311/v2/requests.json",
            data={
                "service_code": "0101",
                "lat": str(point["lat"]),
                "long": str(point["lon"]),
                "description": "市民来电：镇海路口垃圾堆积",
                "email": "caller@example.org",
                **client,
            },
        )
        assert filed.status_code == 201, filed.text
        request_id = filed.json()[0]["service_request_id"]

        async def request_is(status: str, notice: str) -> dict[str, Any] | None:
            [request] = (await intake.get(f"/open311/v2/requests/{request_id}.json", params=client)).json()
            return (
                request
                if request["status"] == status and request["service_notice"].startswith(notice)
                else None
            )

        dispatched = await eventually(
            lambda: request_is("open", "dispatched WG"), what="the request dispatched"
        )
        assert dispatched["agency_responsible"] == "环卫站"
        assert dispatched["expected_datetime"]

        bot = await signed_in(grid, key)  # the same integration, through wangge's own API
        case_id = (await intake.get(f"/v1/reports/{request_id}", headers=bot)).json()["case_id"]
        for who, command, payload in (
            ("ye.guiying", "accept", {}),
            ("ye.guiying", "resolve", {"note": "已清运"}),
            ("wang.fang", "verify", {"passed": True, "note": "现场已干净"}),
        ):
            caller = system.login(who)
            etag = (await dispatch.get(f"/v1/cases/{case_id}", headers=caller)).headers["ETag"]
            done = await dispatch.post(
                f"/v1/cases/{case_id}/{command}", json=payload, headers={**caller, "If-Match": etag}
            )
            assert done.status_code == 200, done.text

        closed = await eventually(lambda: request_is("closed", "closed"), what="the request closed")
        listed = (await intake.get("/open311/v2/requests.json", params={"status": "closed", **client})).json()
        assert [r["service_request_id"] for r in listed] == [request_id]
        assert closed["service_code"] == "0101"
