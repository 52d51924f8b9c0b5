"""``/v1/calendar/{year}``: the admin sets a year's holidays and make-up days; deadlines count them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.dispatch import factories
from tests.dispatch.conftest import ADMIN, DISPATCHER, HANDLER, Dispatch, StartDispatch
from tests.dispatch.fakes import MANHOLE, FakeGrid, FakeIntake

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE_HOURS = {"working_hours": "08:30-12:00,14:00-17:30", "working_weekdays": "mon-fri"}


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def put_year(
    dispatch: Dispatch, year: int, days: list[dict[str, Any]], *, if_match: str | None = "current"
) -> httpx.Response:
    headers = dict(ADMIN)
    if if_match == "current":
        headers["If-Match"] = (await dispatch.client.get(f"/v1/calendar/{year}", headers=ADMIN)).headers[
            "ETag"
        ]
    elif if_match is not None:
        headers["If-Match"] = if_match
    return await dispatch.client.put(f"/v1/calendar/{year}", json={"days": days}, headers=headers)


async def test_a_year_never_set_has_no_days_and_shows_the_working_week(dispatch: Dispatch) -> None:
    response = await dispatch.client.get("/v1/calendar/2026", headers=HANDLER)
    assert response.status_code == 200
    assert response.headers["ETag"] == '"0"'
    body = response.json()
    assert body["days"] == [] and body["version"] == 0
    assert (body["timezone"], body["working_weekdays"]) == ("Asia/Shanghai", "mon-sun")  # the tests' setting


async def test_the_admin_sets_a_year_and_sets_it_again_under_if_match(dispatch: Dispatch) -> None:
    national_day = [
        {"day": "2026-10-08", "kind": "holiday", "name": "国庆节"},
        {"day": "2026-10-01", "kind": "holiday", "name": "国庆节"},
        {"day": "2026-10-10", "kind": "workday", "name": "国庆节调休"},
    ]
    first = await put_year(dispatch, 2026, national_day, if_match='"0"')
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == '"1"'
    assert [d["day"] for d in first.json()["days"]] == ["2026-10-01", "2026-10-08", "2026-10-10"]
    assert first.json()["updated_by"] == "pan.jun"

    read = (await dispatch.client.get("/v1/calendar/2026", headers=DISPATCHER)).json()
    assert read["days"] == first.json()["days"]
    assert (await put_year(dispatch, 2026, [], if_match=None)).status_code == 428
    stale = await put_year(dispatch, 2026, [], if_match='"0"')
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"

    again = await put_year(dispatch, 2026, [{"day": "2026-05-01", "kind": "holiday", "name": "劳动节"}])
    assert again.status_code == 200
    assert [d["day"] for d in again.json()["days"]] == ["2026-05-01"]  # the year's days replaced
    assert again.json()["version"] == 2
    other_year = (await dispatch.client.get("/v1/calendar/2027", headers=ADMIN)).json()
    assert other_year["days"] == []


async def test_wrong_days_are_refused_with_the_reason(dispatch: Dispatch) -> None:
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"day": "2027-01-01", "kind": "holiday"}], "days outside 2026: 2027-01-01"),
        (
            [{"day": "2026-10-01", "kind": "holiday"}, {"day": "2026-10-01", "kind": "workday"}],
            "listed twice",
        ),
        ([{"day": "2026-10-01", "kind": "weekend"}], "holiday"),
        ([{"day": "2026-10-01", "kind": "holiday", "name": "x" * 65}], "64"),
        ([{"day": "2026-13-01", "kind": "holiday"}], "date"),
        ([{"day": 1790812800, "kind": "holiday"}], "YYYY-MM-DD"),  # Unix seconds: 2026-10-01
        ([{"day": "2026-10-01T00:00:00", "kind": "holiday"}], "YYYY-MM-DD"),
        ([{"day": "2026-10-01", "kind": "holiday", "hours": 4}], "hours"),
    ]
    for days, reason in cases:
        response = await put_year(dispatch, 2026, days)
        assert response.status_code == 422, (days, response.text)
        assert reason in response.text, (reason, response.text)
    assert (await dispatch.client.get("/v1/calendar/1999", headers=ADMIN)).status_code == 422
    too_many = [
        {"day": (date(2026, 1, 1) + timedelta(days=n)).isoformat(), "kind": "holiday"} for n in range(367)
    ]
    assert (await put_year(dispatch, 2026, too_many)).status_code == 422
    assert (await dispatch.client.get("/v1/calendar/2026", headers=ADMIN)).json()["version"] == 0


async def test_a_validators_reason_reads_without_pydantics_prefix(dispatch: Dispatch) -> None:
    twice = [{"day": "2026-10-01", "kind": "holiday"}, {"day": "2026-10-01", "kind": "workday"}]
    problem = (await put_year(dispatch, 2026, twice)).json()
    assert problem["detail"] == "body.days: 2026-10-01 is listed twice"  # not "Value error, 2026-…"
    assert [error["msg"] for error in problem["errors"]] == ["2026-10-01 is listed twice"]


async def test_deadlines_count_the_working_calendar_set_meanwhile(start_dispatch: StartDispatch) -> None:
    """The next ten days are holidays, the three after them make-up working days: a normal
    category's 24 working hours are 7 + 7 + 7 + 3 of them, whatever day and hour it is now; an
    urgent one's hours run round the clock. The calendar is read once before it is set, so the
    change must reach the cache at once."""
    async with start_dispatch(FakeGrid(), FakeIntake(), **OFFICE_HOURS) as dispatch:
        before = await dispatch.new_case()  # the calendar read, and kept for a minute
        assert before["status"] == "dispatched"

        today = datetime.now(SHANGHAI).date()
        days: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for n in range(14):
            day = today + timedelta(days=n)
            days[day.year].append({"day": day.isoformat(), "kind": "holiday" if n < 10 else "workday"})
        for year, listed in days.items():
            assert (await put_year(dispatch, year, listed)).status_code == 200

        stall = await dispatch.new_case(lat=factories.LAT + 0.01)
        manhole = await dispatch.new_case(lat=factories.LAT + 0.02, category=MANHOLE)

    fourth_working_day = today + timedelta(days=13)
    assert parse(stall["deadline_at"]) == datetime.combine(fourth_working_day, time(11, 30), SHANGHAI)
    assert stall["urgency"] == "normal"
    assert manhole["urgency"] == "urgent"
    assert parse(manhole["deadline_at"]) - parse(manhole["dispatched_at"]) == timedelta(hours=4)
