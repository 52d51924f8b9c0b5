"""A service that is down delays work and never loses it: real processes stopped and killed."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from shapely.geometry import Point, shape

from tests.e2e.conftest import System, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

REPORTS = 50
WORKER = "wang.fang"


async def territory(system: System) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=system.url("grid"), timeout=10) as grid:
        response = await grid.get("/v1/territory/cells", headers=system.login("pan.jun"))
        return list(response.json()["cells"])


def reports_in(cells: list[dict[str, Any]], categories: list[str], count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    bodies = []
    for n in range(count):
        polygon = shape(cells[n % len(cells)]["geometry"])
        min_x, min_y, max_x, max_y = polygon.bounds
        while not polygon.contains(point := Point(rng.uniform(min_x, max_x), rng.uniform(min_y, max_y))):
            pass
        bodies.append(
            {
                "id": str(uuid.uuid4()),
                "category": categories[n % len(categories)],
                "description": f"故障测试第 {n} 号报告",
                "location": {"lat": point.y, "lon": point.x},
                "seen_at": datetime.now(UTC).isoformat(),
            }
        )
    return bodies


async def file_all(system: System, bodies: list[dict[str, Any]], worker: dict[str, str]) -> None:
    """File every report at once, as a busy morning does; each must be accepted."""
    async with httpx.AsyncClient(base_url=system.url("intake"), timeout=30) as intake:
        responses = await asyncio.gather(
            *(
                intake.post("/v1/reports", json=body, headers={**worker, "Idempotency-Key": body["id"]})
                for body in bodies
            )
        )
    for response in responses:
        assert response.status_code == 201, response.text


async def assert_every_report_on_exactly_one_case(system: System, bodies: list[dict[str, Any]]) -> None:
    ids = {body["id"] for body in bodies}
    worker, dispatcher = system.login(WORKER), system.login("hong.yi")
    async with (
        httpx.AsyncClient(base_url=system.url("intake"), timeout=10) as intake,
        httpx.AsyncClient(base_url=system.url("dispatch"), timeout=10) as dispatch,
    ):

        async def all_on_cases() -> bool:
            seen = await asyncio.gather(*(intake.get(f"/v1/reports/{i}", headers=worker) for i in ids))
            return all(r.json().get("case_id") for r in seen)

        await eventually(all_on_cases, within=60, what=f"all {len(ids)} reports to be on cases")
        on_cases: Counter[str] = Counter()
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = (await dispatch.get("/v1/cases", params=params, headers=dispatcher)).json()
            for case in page["items"]:
                detail = (await dispatch.get(f"/v1/cases/{case['id']}", headers=dispatcher)).json()
                on_cases.update(r["report_id"] for r in detail["reports"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert set(on_cases) == ids
    assert max(on_cases.values()) == 1, "a report stands on more than one case"


async def categories(system: System) -> list[str]:
    async with httpx.AsyncClient(base_url=system.url("grid"), timeout=10) as grid:
        response = await grid.get("/v1/catalog", params={"limit": 100}, headers=system.login("pan.jun"))
        catalog = response.json()["items"]
    return [c["code"] for c in catalog if c["department_code"]]


async def test_reports_filed_while_dispatch_is_down_all_reach_cases(system: System) -> None:
    bodies = reports_in(await territory(system), await categories(system), REPORTS)
    system.services["dispatch"].stop()

    await file_all(system, bodies, system.login(WORKER))

    system.services["dispatch"].start()
    system.services["dispatch"].wait_ready()
    await assert_every_report_on_exactly_one_case(system, bodies)


async def test_reports_filed_while_grid_is_down_all_reach_cases(system: System) -> None:
    cells = await territory(system)
    codes = await categories(system)
    for username in (WORKER, "hong.yi"):
        system.login(username)  # signed in before grid goes away
    system.services["grid"].stop()

    bodies = reports_in(cells, codes, REPORTS)
    await file_all(system, bodies, system.login(WORKER))

    system.services["grid"].start()
    system.services["grid"].wait_ready()
    await assert_every_report_on_exactly_one_case(system, bodies)


async def test_intake_killed_mid_delivery_loses_and_doubles_nothing(system: System) -> None:
    bodies = reports_in(await territory(system), await categories(system), REPORTS)
    await file_all(system, bodies, system.login(WORKER))
    # Killed while its relay is delivering: some messages sent and not yet marked sent.
    system.services["intake"].kill()

    system.services["intake"].start()
    system.services["intake"].wait_ready()
    await assert_every_report_on_exactly_one_case(system, bodies)
