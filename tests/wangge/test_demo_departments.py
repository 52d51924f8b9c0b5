"""The demo acts only where it has someone to act as: a department an admin added, with its own
staff, is sent no report and no case of the demo's."""

from __future__ import annotations

import random
from typing import Any

import httpx

from wangge.demo.day import Day
from wangge.demo.world import Api, DemoConfig, Staff, World, plan_day

CELL: dict[str, Any] = {
    "code": "35020300100101",
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[118.07, 24.45], [118.074, 24.45], [118.074, 24.455], [118.07, 24.455], [118.07, 24.45]]
        ],
    },
}


def world() -> World:
    """The seeded staff, and an admin's new department (绿化所) whose handler has their own password."""
    return World(
        cells=[CELL],
        categories=[
            {"code": "0101", "name_zh": "暴露垃圾", "department_code": "sanitation"},
            {"code": "0199", "name_zh": "树木倒伏", "department_code": "greening"},
        ],
        staff={
            "grid_worker": [Staff("wang.fang", "grid_worker", None, ["35020300100101"], "t")],
            "dispatcher": [Staff("hong.yi", "dispatcher", token="t")],
            "handler": [Staff("ye.guiying", "handler", "sanitation", token="t")],
        },
    )


def test_no_report_is_planned_for_a_department_the_demo_has_no_handler_in() -> None:
    """An admin added 绿化所 and 树木倒伏 routed to it: the demo filed 树木倒伏 reports, the router
    sent them to 绿化所, and the demo stopped mid-day ('the demo staff has no handler in
    greening'), its day's cases left half done."""
    plan = plan_day(world(), 200, random.Random(1))

    assert {report.body["category"] for report in plan} <= {"0101", None}


async def test_a_case_routed_to_such_a_department_is_left_to_it() -> None:
    """A routing override can still send one of the demo's categories there."""
    asked: list[httpx.Request] = []

    def dispatch(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        case: dict[str, Any] = {"id": 7, "status": "dispatched", "department_code": "greening", "reports": []}
        return httpx.Response(200, json=case, headers={"ETag": '"2"'})

    api = Api(DemoConfig())
    await api.dispatch.aclose()
    api.dispatch = httpx.AsyncClient(transport=httpx.MockTransport(dispatch), base_url="http://dispatch")
    try:
        await Day(api, world(), random.Random(1)).work_case(7)
    finally:
        await api.aclose()

    assert [request.method for request in asked] == ["GET"]
