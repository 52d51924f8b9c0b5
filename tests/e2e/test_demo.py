"""`wangge demo` on a system that already has cases of its own: it works the day's cases only."""

from __future__ import annotations

import io
import random
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from rich.console import Console

from tests.e2e.conftest import System, eventually, integration
from wangge.demo import DemoConfig, run_demo
from wangge.demo.world import Api, load_world, plan_day

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ADMIN = "pan.jun"
DISPATCHER = "hong.yi"


async def test_demo_leaves_other_cases_alone_and_rates_as_its_own_reporter(system: System) -> None:
    config = DemoConfig(
        intake_url=system.url("intake"),
        dispatch_url=system.url("dispatch"),
        grid_url=system.url("grid"),
        reports=8,
        seed=5,
    )
    admin = system.login(ADMIN)
    office = system.login(DISPATCHER)
    async with (
        httpx.AsyncClient(base_url=system.url("grid"), timeout=15) as grid,
        httpx.AsyncClient(base_url=system.url("intake"), timeout=15) as intake,
        httpx.AsyncClient(base_url=system.url("dispatch"), timeout=15) as dispatch,
    ):
        hotline = await integration(grid, admin, name="12345 hotline", channel="hotline")

        async def file(category: str | None, lat: float, lon: float) -> int:
            body = {
                "id": str(uuid.uuid4()),
                "category": category,
                "description": "市民来电",
                "location": {"lat": lat, "lon": lon},
                "seen_at": datetime.now(UTC).isoformat(),
            }
            assert (await intake.post("/v1/reports", json=body, headers=hotline)).status_code == 201

            async def case_id() -> int | None:
                seen = (await intake.get(f"/v1/reports/{body['id']}", headers=hotline)).json()
                return seen.get("case_id")

            return await eventually(case_id, what="the hotline's case")

        # A citizen's call from outside the territory: it waits in triage for the office.
        outside = await file("0101", 39.9, 116.4)
        # A citizen's call where the demo's first report will be: the demo's report joins it.
        api = Api(config)
        try:
            plan = plan_day(await load_world(api, ADMIN), config.reports, random.Random(config.seed))
        finally:
            await api.aclose()
        first = next(p.body for p in plan if p.body["category"])
        shared = await file(first["category"], first["location"]["lat"], first["location"]["lon"])

        out = io.StringIO()
        code = await run_demo(config, Console(file=out, width=120))
        assert code == 0, out.getvalue()

        untouched = (await dispatch.get(f"/v1/cases/{outside}", headers=office)).json()
        assert untouched["status"] == "triage", untouched["timeline"]
        assert [e["action"] for e in untouched["timeline"]] == ["registered"]
        # the case the demo's report joined was rated by the demo's reporter, not by a stranger
        joined = (await dispatch.get(f"/v1/cases/{shared}", headers=office)).json()
        assert joined["status"] == "closed", joined["timeline"]
        assert joined["rating"] is not None
