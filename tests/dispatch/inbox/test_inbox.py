"""``POST /internal/v1/inbox``: reports become cases, routed, merged, never doubled."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.actors import Role
from tests.dispatch import factories
from tests.dispatch.conftest import ADMIN, Dispatch, StartDispatch
from tests.dispatch.fakes import CELL, MANHOLE, OTHER, OTHER_CELL, FakeGrid, FakeIntake
from tests.support.tokens import bearer, service_bearer

NEAR = 0.0002  # ≈ 22 m north
FAR = 0.002  # ≈ 220 m north


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_routed_report_is_dispatched_at_once_with_a_deadline(dispatch: Dispatch) -> None:
    payload = factories.report()
    results = await dispatch.deliver(payload)

    assert results == [{"key": payload["report_id"], "status": "accepted", "detail": None}]
    case = await dispatch.case_of(payload["report_id"])
    assert case["status"] == "dispatched"
    assert (case["department_code"], case["department_name"]) == ("enforcement", "执法中队")
    assert (case["category_code"], case["category_name"]) == ("0101", "占道经营")
    assert case["case_number"].startswith("WG") and case["case_number"].endswith("-0001")
    assert parse(case["deadline_at"]) - parse(case["dispatched_at"]) == timedelta(hours=24)
    assert case["reported_at"] == parse(payload["seen_at"]).isoformat().replace("+00:00", "Z")
    assert [(e["action"], e["actor_id"]) for e in case["timeline"]] == [
        ("registered", "wang.fang"),
        ("dispatched", "system:router"),
    ]
    assert case["reports"][0]["report_id"] == payload["report_id"]


async def test_a_routing_override_picks_the_department(start_dispatch: StartDispatch) -> None:
    grid = FakeGrid(overrides={(MANHOLE, CELL): "market"})
    async with start_dispatch(grid, FakeIntake()) as dispatch:
        case = await dispatch.new_case(category=MANHOLE)
    assert case["department_code"] == "market"
    assert case["urgency"] == "urgent"
    assert parse(case["deadline_at"]) - parse(case["dispatched_at"]) == timedelta(hours=4)


async def test_one_routing_round_trip_for_a_batch_and_unknown_codes_wait_in_triage(
    dispatch: Dispatch,
) -> None:
    routed = factories.report()
    elsewhere = factories.report(lat=factories.LAT + FAR, grid_cell=OTHER_CELL, category=MANHOLE)
    unknown = factories.report(lat=factories.LAT + 2 * FAR, category="A0101")  # a bot's own code
    results = await dispatch.deliver(routed, elsewhere, unknown)
    assert [r["status"] for r in results] == ["accepted"] * 3
    assert len(dispatch.grid.questions) == 1
    assert sorted(dispatch.grid.questions[0]) == sorted(
        [(factories.STALL, CELL), (MANHOLE, OTHER_CELL), ("A0101", CELL)]
    )
    statuses = [(await dispatch.case_of(p["report_id"]))["status"] for p in (routed, elsewhere, unknown)]
    assert statuses == ["dispatched", "dispatched", "triage"]


async def test_a_case_routed_where_nobody_can_see_it_is_logged_from_the_routing_answer(
    dispatch: Dispatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Auto-dispatch goes through all the same; the warning comes from grid's routing answer,
    which counts the department's handlers who can sign in: no request more per report."""
    dispatch.grid.departments["works"] = {**dispatch.grid.departments["works"], "active_handlers": 0}
    staffed = factories.report()
    unstaffed = factories.report(lat=factories.LAT + FAR, category=MANHOLE)
    caplog.set_level(logging.WARNING, logger="wangge.dispatch.inbox")

    await dispatch.deliver(staffed, unstaffed)

    assert [path.split("?")[0] for path in dispatch.grid.calls] == ["/v1/routing/resolutions"]
    case = await dispatch.case_of(unstaffed["report_id"])
    assert (case["status"], case["department_code"]) == ("dispatched", "works")
    assert caplog.messages == [
        f"case {case['case_number']} dispatched by system:router: department works (市政所) has no active "
        "handler who can sign in: the case will wait unseen until one is assigned or given a password"
    ]
    assert caplog.records[0].levelno == logging.WARNING


async def test_a_redelivered_report_is_a_duplicate_and_makes_no_second_case(dispatch: Dispatch) -> None:
    payload = factories.report()
    await dispatch.deliver(payload)
    assert [r["status"] for r in await dispatch.deliver(payload, payload)] == ["duplicate", "duplicate"]
    assert await dispatch.case_count() == 1
    case = await dispatch.case_of(payload["report_id"])
    assert case["report_count"] == 1


async def test_the_same_report_twice_in_one_batch_counts_once(dispatch: Dispatch) -> None:
    payload = factories.report()
    assert [r["status"] for r in await dispatch.deliver(payload, payload)] == ["accepted", "duplicate"]
    assert await dispatch.case_count() == 1


async def test_a_payload_that_does_not_validate_is_rejected_beside_good_ones(dispatch: Dispatch) -> None:
    good = factories.report()
    bad = factories.report(lat=124.4)
    naive = factories.report(seen_at="2026-11-27T08:00:00")
    missing = {"report_id": str(uuid.uuid4())}
    year_one = factories.report(seen_at="0001-01-01T00:00:00+00:00")  # a 500 for the batch: its
    year_9999 = factories.report(received_at="9999-12-31T23:00:00+00:00")  # merge window overflowed
    as_text = factories.report(lat=str(factories.LAT))
    results = await dispatch.deliver(good, bad, naive, missing, year_one, year_9999, as_text)
    assert [r["status"] for r in results] == ["accepted"] + ["rejected"] * 6
    assert "lat" in results[1]["detail"]
    assert await dispatch.case_count() == 1


async def test_a_near_report_of_the_same_category_joins_the_open_case(dispatch: Dispatch) -> None:
    first = factories.report()
    second = factories.report(lat=factories.LAT + NEAR, reporter_id="chen.li", address="中山路 90 号")
    await dispatch.deliver(first)
    results = await dispatch.deliver(second)

    assert results[0]["status"] == "accepted"
    assert await dispatch.case_count() == 1
    case = await dispatch.case_of(first["report_id"])
    assert case["report_count"] == 2
    assert {r["report_id"] for r in case["reports"]} == {first["report_id"], second["report_id"]}
    # each report keeps its own address (the one that joined had lost it)
    assert [r["address"] for r in case["reports"]] == ["中山路 88 号", "中山路 90 号"]
    assert case["address"] == "中山路 88 号"
    assert case["timeline"][-1]["action"] == "merged"
    assert case["timeline"][-1]["actor_id"] == "chen.li"


METRE = 1 / 101_350  # a metre of longitude at the demo cell's latitude


async def two_cases_west_and_east(dispatch: Dispatch) -> int:
    """West to east: x1 (45 m west), x2 (12 m west), the demo point, y (25 m east). x2 joined
    x1's case; the point lies nearer x2 than y, though x1, the case's first report and the
    first in the index, lies farther than y. Returns x's case."""
    y = factories.report(lon=factories.LON + 25 * METRE)
    x1 = factories.report(lon=factories.LON - 45 * METRE)
    x2 = factories.report(lon=factories.LON - 12 * METRE)
    for report in (y, x1, x2):
        await dispatch.deliver(report)
    assert await dispatch.case_count() == 2
    x_case: int = (await dispatch.case_of(x1["report_id"]))["id"]
    assert x_case == (await dispatch.case_of(x2["report_id"]))["id"]
    return x_case


async def test_a_report_joins_the_case_whose_nearest_report_is_nearest(dispatch: Dispatch) -> None:
    x_case = await two_cases_west_and_east(dispatch)

    new = factories.report()
    await dispatch.deliver(new)
    assert (await dispatch.case_of(new["report_id"]))["id"] == x_case


async def test_each_report_of_a_batch_finds_its_own_nearest_report_of_a_case(dispatch: Dispatch) -> None:
    x_case = await two_cases_west_and_east(dispatch)

    # x1 is the case's nearest report for the first, x2 for the second
    beside_x1, new = factories.report(lon=factories.LON - 47 * METRE), factories.report()
    await dispatch.deliver(beside_x1, new)
    assert (await dispatch.case_of(beside_x1["report_id"]))["id"] == x_case
    assert (await dispatch.case_of(new["report_id"]))["id"] == x_case
    assert await dispatch.case_count() == 2


async def test_reports_in_one_batch_merge_with_each_other(dispatch: Dispatch) -> None:
    first, second = factories.report(), factories.report(lat=factories.LAT - NEAR)
    await dispatch.deliver(first, second)
    assert await dispatch.case_count() == 1


async def test_far_other_category_late_or_uncategorised_reports_open_their_own_cases(
    dispatch: Dispatch,
) -> None:
    first = factories.report()
    seen = parse(first["seen_at"])
    others = [
        factories.report(lat=factories.LAT + FAR),
        factories.report(category=MANHOLE),
        factories.report(seen_at=(seen + timedelta(hours=5)).isoformat()),
        factories.report(category=None),
    ]
    await dispatch.deliver(first)
    await dispatch.deliver(*others)
    assert await dispatch.case_count() == 5


async def test_a_report_joins_a_case_seen_across_midnight(dispatch: Dispatch) -> None:
    # PostgreSQL's look-up scans each UTC day of the window (its index is by day); on SQLite,
    # which reads the box without days, this passes as it always did
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    before = factories.report(seen_at=(midnight - timedelta(minutes=10)).isoformat())
    after = factories.report(lat=factories.LAT + NEAR, seen_at=(midnight + timedelta(minutes=10)).isoformat())
    await dispatch.deliver(before)
    [result] = await dispatch.deliver(after)
    case = await dispatch.case_of(before["report_id"])
    assert result["detail"] == f"merged into case {case['id']}"
    assert case["report_count"] == 2


async def test_a_report_does_not_join_a_closed_or_rejected_case(dispatch: Dispatch) -> None:
    first = await dispatch.new_case()
    await dispatch.ok(first["id"], "reject", {"reason": "void", "note": "no stall there"})
    await dispatch.deliver(factories.report())
    assert await dispatch.case_count() == 2


async def test_unroutable_reports_wait_in_triage(dispatch: Dispatch) -> None:
    no_category = await dispatch.new_case(category=None)
    no_cell = await dispatch.new_case(grid_cell=None, community=None, lat=factories.LAT + 0.01)
    no_department = await dispatch.new_case(category=OTHER, lat=factories.LAT + 0.02)
    unknown = await dispatch.new_case(category="9999", lat=factories.LAT + 0.03)
    # a cell grid does not know (the territory changed since intake located the report)
    unknown_cell = await dispatch.new_case(grid_cell="350203001999", lat=factories.LAT + 0.04)

    for case in (no_category, no_cell, no_department, unknown, unknown_cell):
        assert case["status"] == "triage", case
        assert case["department_code"] is None and case["deadline_at"] is None
        assert [e["action"] for e in case["timeline"]] == ["registered"]
    for case in (no_cell, unknown_cell):  # the catalog still names it (was None in an unknown cell)
        assert case["category_name"] == "占道经营", case
    assert no_department["category_name"] == "其他"
    assert unknown["category_code"] == "9999" and unknown["category_name"] is None


async def test_grid_down_answers_503_writes_nothing_and_a_later_redelivery_works(dispatch: Dispatch) -> None:
    payloads = [factories.report(), factories.report(grid_cell=OTHER_CELL, lat=factories.LAT + FAR)]
    dispatch.grid.down = True
    response = await dispatch.send(*payloads)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await dispatch.case_count() == 0
    assert await dispatch.outbox() == []

    dispatch.grid.down = False
    assert [r["status"] for r in await dispatch.deliver(*payloads)] == ["accepted", "accepted"]
    assert await dispatch.case_count() == 2


async def test_routing_answers_are_cached(start_dispatch: StartDispatch) -> None:
    grid = FakeGrid()
    async with start_dispatch(grid, FakeIntake(), routing_cache_seconds=60) as dispatch:
        await dispatch.deliver(factories.report(), factories.report(lat=factories.LAT + FAR))
        await dispatch.deliver(factories.report(lat=factories.LAT + 2 * FAR))
    assert grid.questions == [[(factories.STALL, factories.CELL)]]


async def test_the_inbox_takes_only_intake(dispatch: Dispatch) -> None:
    body = factories.batch(factories.report())
    anonymous = await dispatch.client.post("/internal/v1/inbox", json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    for headers in (service_bearer("grid"), service_bearer("dispatch"), bearer("pan.jun", Role.admin)):
        response = await dispatch.client.post("/internal/v1/inbox", json=body, headers=headers)
        assert response.status_code == 403, headers
    assert await dispatch.case_count() == 0


async def test_case_numbers_count_up_within_the_day(dispatch: Dispatch) -> None:
    await dispatch.deliver(*(factories.report(lat=factories.LAT + i * FAR) for i in range(3)))
    page = (await dispatch.client.get("/v1/cases", headers=ADMIN)).json()
    numbers = sorted(c["case_number"] for c in page["items"])
    assert len({n[:11] for n in numbers}) == 1 and numbers[0][:2] == "WG" and numbers[0][10] == "-"
    assert [n[-4:] for n in numbers] == ["0001", "0002", "0003"]
