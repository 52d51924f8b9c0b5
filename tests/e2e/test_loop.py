"""A report walks the whole loop across three real processes: street → closed case, with the
photos of the problem and of the work done."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from PIL import Image
from shapely.geometry import shape

from tests.e2e.conftest import System, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# Demo accounts seeded by `wangge seed` (password wangge-demo).
WORKER = "wang.fang"  # grid worker in 镇海
DISPATCHER = "hong.yi"
ADMIN = "pan.jun"


def point_in(cell: dict[str, Any]) -> tuple[float, float]:
    point = shape(cell["geometry"]).representative_point()
    return point.y, point.x


async def plan_report(system: System, grid: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any], str]:
    """One of the worker's own cells with no routing override, a category the catalog sends to a
    department, and a handler of that department."""
    admin = system.login(ADMIN)
    me = (await grid.get(f"/v1/staff/{WORKER}", headers=admin)).json()
    cells = (await grid.get("/v1/territory/cells", headers=admin)).json()["cells"]
    catalog = (await grid.get("/v1/catalog", params={"limit": 100}, headers=admin)).json()["items"]
    category = next(c for c in catalog if c["department_code"])
    handlers = (
        await grid.get(
            "/v1/staff", params={"role": "handler", "department": category["department_code"]}, headers=admin
        )
    ).json()["items"]
    for cell in cells:
        if cell["code"] not in me["region_codes"]:
            continue
        params = {"category": category["code"], "cell": cell["code"]}
        route = (await grid.get("/v1/routing/resolve", params=params, headers=admin)).json()
        if route["source"] == "catalog":
            return cell, category, handlers[0]["username"]
    raise AssertionError("every cell of the worker overrides the category")


async def upload_photo(intake: httpx.AsyncClient, caller: dict[str, str], color: tuple[int, int, int]) -> str:
    """A phone's picture, uploaded to intake: its URL, for a report's or a command's photos."""
    picture = io.BytesIO()
    Image.new("RGB", (1200, 900), color).save(picture, "JPEG")
    answer = await intake.post(
        "/v1/photos", content=picture.getvalue(), headers={**caller, "Content-Type": "image/jpeg"}
    )
    assert answer.status_code == 201, answer.text
    url: str = answer.json()["url"]
    assert url.startswith(str(intake.base_url).rstrip("/"))
    return url


async def test_report_travels_from_the_street_to_a_closed_case(system: System) -> None:
    async with (
        httpx.AsyncClient(base_url=system.url("intake"), timeout=10) as intake,
        httpx.AsyncClient(base_url=system.url("dispatch"), timeout=10) as dispatch,
        httpx.AsyncClient(base_url=system.url("grid"), timeout=10) as grid,
    ):
        cell, category, handler_name = await plan_report(system, grid)
        worker = system.login(WORKER)
        handler = system.login(handler_name)
        lat, lon = point_in(cell)
        report_id = str(uuid.uuid4())
        before = await upload_photo(intake, worker, color=(200, 30, 30))
        body = {
            "id": report_id,
            "category": category["code"],
            "description": "占道摆摊，影响行人通行",
            "location": {"lat": lat, "lon": lon, "address": "中山路 88 号"},
            "seen_at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat(),
            "photos": [before],
        }
        filed = await intake.post("/v1/reports", json=body, headers={**worker, "Idempotency-Key": report_id})
        assert filed.status_code == 201, filed.text
        assert filed.json()["status"] == "received"

        async def reporter_sees(status: str) -> dict[str, Any] | None:
            seen = (await intake.get(f"/v1/reports/{report_id}", headers=worker)).json()
            return seen if seen["status"] == status else None

        seen = await eventually(lambda: reporter_sees("dispatched"), what="the reporter to see 'dispatched'")
        assert seen["department_code"] == category["department_code"]
        assert seen["grid_cell"] == cell["code"]
        case_id = seen["case_id"]
        assert seen["case_number"]

        after = await upload_photo(intake, handler, color=(30, 200, 30))
        steps: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
            ("accept", {}, handler, "in_progress"),
            ("resolve", {"note": "摊贩已劝离，路面已清理", "photos": [after]}, handler, "resolved"),
            ("verify", {"passed": True, "note": "现场核查通过"}, worker, "closed"),
            ("feedback", {"rating": 5, "comment": "处理很快"}, worker, "closed"),
        ]
        for action, payload, actor, status in steps:
            current = await dispatch.get(f"/v1/cases/{case_id}", headers=actor)
            done = await dispatch.post(
                f"/v1/cases/{case_id}/{action}",
                json=payload,
                headers={**actor, "If-Match": current.headers["ETag"]},
            )
            assert done.status_code == 200, done.text
            assert done.json()["status"] == status
            await eventually(partial(reporter_sees, status), what=f"the reporter to see {status!r}")

        case = (await dispatch.get(f"/v1/cases/{case_id}", headers=system.login(DISPATCHER))).json()
        actions = [(e["action"], e["actor_id"]) for e in case["timeline"]]
        assert [a for a, _ in actions] == [
            "registered",
            "dispatched",
            "accepted",
            "resolved",
            "verified",
            "feedback",
        ]
        # Every step names the verified person who took it, with their role.
        assert dict(actions)["registered"] == WORKER
        assert dict(actions)["accepted"] == handler_name
        assert dict(actions)["resolved"] == handler_name
        assert dict(actions)["verified"] == WORKER
        assert dict(actions)["feedback"] == WORKER
        assert {e["actor_role"] for e in case["timeline"] if e["action"] == "accepted"} == {"handler"}
        assert all(e["at"] for e in case["timeline"])
        assert case["rating"] == 5
        # The photos: the worker's on the report, the handler's on the resolution, each shown
        # to the dispatcher by intake, where they were uploaded.
        assert case["reports"][0]["photos"] == [before]
        assert [e["photos"] for e in case["timeline"] if e["action"] == "resolved"] == [[after]]
        for url, color in ((before, (200, 30, 30)), (after, (30, 200, 30))):
            shown = await intake.get(url, headers=system.login(DISPATCHER))
            assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
            picture = Image.open(io.BytesIO(shown.content))
            pixel = picture.convert("RGB").getpixel((50, 50))
            assert isinstance(pixel, tuple)
            assert all(abs(a - b) < 30 for a, b in zip(pixel, color, strict=True))
        reporter_view = (await intake.get(f"/v1/reports/{report_id}", headers=worker)).json()
        assert reporter_view["status"] == "closed"
        assert [u["status"] for u in reporter_view["updates"]][-1] == "closed"


async def test_bad_input_is_a_clear_problem_never_a_500(system: System) -> None:
    worker, dispatcher = system.login(WORKER), system.login(DISPATCHER)
    async with (
        httpx.AsyncClient(base_url=system.url("intake"), timeout=10) as intake,
        httpx.AsyncClient(base_url=system.url("dispatch"), timeout=10) as dispatch,
    ):
        base = {
            "id": str(uuid.uuid4()),
            "category": None,
            "description": "井盖缺失",
            "location": {"lat": 24.455, "lon": 118.08},
            "seen_at": datetime.now(UTC).isoformat(),
        }
        unknown_field = await intake.post("/v1/reports", json={**base, "status": "closed"}, headers=worker)
        out_of_range = await intake.post(
            "/v1/reports", json={**base, "location": {"lat": 124.4, "lon": 118.0}}, headers=worker
        )
        for response in (unknown_field, out_of_range):
            assert response.status_code == 422
            assert response.headers["content-type"].startswith("application/problem+json")

        filed = await intake.post("/v1/reports", json=base, headers=worker)
        assert filed.status_code == 201
        seen = await eventually(
            lambda: _json_if(intake.get(f"/v1/reports/{base['id']}", headers=worker), lambda r: r["case_id"]),
            what="a case for the report",
        )
        case_id = seen["case_id"]
        current = await dispatch.get(f"/v1/cases/{case_id}", headers=dispatcher)
        assert current.json()["status"] == "triage"
        illegal = await dispatch.post(
            f"/v1/cases/{case_id}/close",
            json={"note": "已处理"},
            headers={**dispatcher, "If-Match": current.headers["ETag"]},
        )
        assert illegal.status_code == 409
        assert illegal.json()["current_state"] == "triage"
        stale = await dispatch.post(
            f"/v1/cases/{case_id}/dispatch",
            json={"department_code": "police"},
            headers={**dispatcher, "If-Match": '"999"'},
        )
        assert stale.status_code == 412
        assert stale.headers["content-type"].startswith("application/problem+json")


async def _json_if(request: Any, accept: Any) -> Any:
    response = await request
    data = response.json()
    return data if response.status_code == 200 and accept(data) else None
