"""``GET /v1/figures``: the rates a subdistrict is judged by, from the cases and their timeline."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from services.dispatch.models import CaseEvent
from shared.actors import Role
from shared.db import session_scope, utcnow
from tests.dispatch import factories
from tests.dispatch.conftest import (
    ADMIN,
    HANDLER,
    SUPERVISOR,
    WORKER,
    WORKS_HANDLER,
    Dispatch,
    StartDispatch,
)
from tests.dispatch.fakes import (
    COMMUNITY,
    FAR_CELL,
    FAR_COMMUNITY,
    MANHOLE,
    OTHER,
    FakeGrid,
    FakeIntake,
)
from tests.support.tokens import bearer

FAR_WORKER = bearer("he.min", Role.grid_worker, regions=[FAR_CELL])


async def handle(dispatch: Dispatch, case_id: int, *, handler: dict[str, str] = HANDLER) -> None:
    await dispatch.ok(case_id, "accept", {}, actor=handler)
    await dispatch.ok(case_id, "resolve", {"note": "处理完毕"}, actor=handler)


async def five_cases(dispatch: Dispatch) -> None:
    """enforcement: one closed on time and rated 5, one resolved late and rated 3, one overdue;
    works: one closed on time after a rework (in another community); no department: one
    rejected from triage."""
    on_time = await dispatch.new_case()
    await handle(dispatch, on_time["id"])
    await dispatch.ok(on_time["id"], "verify", {"passed": True})
    await dispatch.ok(on_time["id"], "feedback", {"rating": 5})

    late = await dispatch.new_case(lat=factories.LAT + 0.01)
    await dispatch.set_case(late["id"], deadline_at=utcnow() - timedelta(minutes=1))
    await handle(dispatch, late["id"])
    await dispatch.ok(late["id"], "verify", {"passed": True})
    await dispatch.ok(late["id"], "feedback", {"rating": 3})

    overdue = await dispatch.new_case(lat=factories.LAT + 0.02)
    await dispatch.set_case(overdue["id"], deadline_at=utcnow() - timedelta(minutes=1))

    reworked = await dispatch.new_case(
        lat=factories.LAT + 0.03, category=MANHOLE, grid_cell=FAR_CELL, community=FAR_COMMUNITY
    )
    await handle(dispatch, reworked["id"], handler=WORKS_HANDLER)
    await dispatch.ok(reworked["id"], "verify", {"passed": False, "note": "井盖仍松动"}, actor=FAR_WORKER)
    await handle(dispatch, reworked["id"], handler=WORKS_HANDLER)
    await dispatch.ok(reworked["id"], "verify", {"passed": True}, actor=FAR_WORKER)

    rejected = await dispatch.new_case(lat=factories.LAT + 0.04, category=OTHER)
    assert rejected["status"] == "triage"
    await dispatch.ok(rejected["id"], "reject", {"reason": "void"})


async def figures(dispatch: Dispatch, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await dispatch.client.get("/v1/figures", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def row(body: dict[str, Any], department: str | None) -> dict[str, Any]:
    found: dict[str, Any] = next(d for d in body["departments"] if d["department_code"] == department)
    return found


async def test_the_rates_by_department_and_in_all(dispatch: Dispatch) -> None:
    await five_cases(dispatch)
    body = await figures(dispatch, SUPERVISOR)

    enforcement = row(body, "enforcement")
    assert enforcement["department_name"] == "执法中队"
    assert {k: enforcement[k] for k in ("cases", "rejected", "to_close", "closed", "closed_on_time")} == {
        "cases": 3,
        "rejected": 0,
        "to_close": 3,
        "closed": 2,
        "closed_on_time": 1,
    }
    assert (enforcement["overdue"], enforcement["reworked"]) == (1, 0)
    assert (enforcement["rated"], enforcement["mean_rating"], enforcement["satisfied"]) == (2, 4.0, 1)
    assert (enforcement["closure_rate"], enforcement["on_time_closure_rate"]) == (0.6667, 0.3333)
    assert enforcement["satisfaction_rate"] == 0.5

    works = row(body, "works")
    assert (works["closed"], works["closed_on_time"], works["reworked"], works["rework_rate"]) == (
        1,
        1,
        1,
        1.0,
    )
    assert works["mean_rating"] is None and works["satisfaction_rate"] is None

    assert [d["department_code"] for d in body["departments"]] == ["enforcement", "market", "works", None]
    market = row(body, "market")  # no case: named, with zeros and no rates
    assert (market["department_name"], market["cases"], market["closure_rate"]) == ("工商所", 0, None)

    nobody = row(body, None)
    assert (nobody["cases"], nobody["rejected"], nobody["to_close"], nobody["closure_rate"]) == (
        1,
        1,
        0,
        None,
    )

    total = body["total"]
    assert (total["cases"], total["to_close"], total["closed"], total["closed_on_time"]) == (5, 4, 3, 2)
    assert (total["closure_rate"], total["on_time_closure_rate"], total["rework_rate"]) == (0.75, 0.5, 0.25)
    assert (total["overdue"], total["rated"], total["unsatisfied"]) == (1, 2, 0)


async def test_the_figures_as_a_spreadsheet_excel_opens(dispatch: Dispatch) -> None:
    await five_cases(dispatch)
    as_json = await figures(dispatch, SUPERVISOR)

    answer = await dispatch.client.get("/v1/figures", params={"format": "csv"}, headers=SUPERVISOR)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    since, until = as_json["since"], as_json["until"]
    last = (date.fromisoformat(until) - timedelta(days=1)).isoformat()  # until is the day after the last
    assert answer.headers["content-disposition"] == f'attachment; filename="figures-{since}-{last}.csv"'
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8, not GBK
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [r["department_code"] for r in rows] == [
        *(d["department_code"] or "" for d in as_json["departments"]),
        "total",
    ]
    enforcement = next(r for r in rows if r["department_code"] == "enforcement")
    assert enforcement["department_name"] == "执法中队"
    assert (enforcement["cases"], enforcement["closed_on_time"], enforcement["on_time_closure_rate"]) == (
        "3",
        "1",
        "0.3333",
    )
    assert rows[-1]["closure_rate"] == "0.75" and rows[-1]["cases"] == "5"
    # every figure as the JSON has it: a mean rating of 4.0 is no "4.0000"
    json_enforcement = next(d for d in as_json["departments"] if d["department_code"] == "enforcement")
    assert enforcement["mean_rating"] == str(json_enforcement["mean_rating"])
    assert (rows[-1]["department_code"], rows[-1]["department_name"]) == ("total", "合计")
    nobody = next(r for r in rows if r["department_code"] == "")
    assert (nobody["department_name"], nobody["rejected"]) == ("未派单", "1")
    works = next(r for r in rows if r["department_code"] == "works")
    assert works["satisfaction_rate"] == ""  # no rating: no rate
    other = await dispatch.client.get("/v1/figures", params={"format": "xlsx"}, headers=SUPERVISOR)
    assert other.status_code == 422


async def test_each_reader_counts_the_cases_of_their_post(dispatch: Dispatch) -> None:
    await five_cases(dispatch)
    handler = await figures(dispatch, HANDLER)
    assert [d["department_code"] for d in handler["departments"]] == ["enforcement"]
    assert handler["total"]["cases"] == 3

    worker = await figures(dispatch, WORKER)  # the demo cell: enforcement's three and the rejected one
    assert worker["total"]["cases"] == 4
    leader = bearer("zheng.wei", Role.grid_leader, regions=[COMMUNITY])
    assert (await figures(dispatch, leader))["total"]["cases"] == 4
    assert (await figures(dispatch, FAR_WORKER))["total"]["cases"] == 1

    only_works = await figures(dispatch, ADMIN, department="works")
    assert [d["department_code"] for d in only_works["departments"]] == ["works"]


async def test_the_period_is_office_days_and_bounded(dispatch: Dispatch) -> None:
    await dispatch.new_case()
    now = datetime.now(UTC)
    today = (now + timedelta(hours=8)).date()  # Asia/Shanghai, the default time zone
    assert (await figures(dispatch, ADMIN))["total"]["cases"] == 1  # the month so far
    assert (await figures(dispatch, ADMIN, since=today.isoformat()))["total"]["cases"] == 1
    later = await figures(
        dispatch,
        ADMIN,
        since=(today + timedelta(days=1)).isoformat(),
        until=(today + timedelta(days=2)).isoformat(),
    )
    assert later["total"]["cases"] == 0
    assert [(d["department_code"], d["cases"]) for d in later["departments"]] == [
        ("enforcement", 0),  # every department named, with nothing yet
        ("market", 0),
        ("works", 0),
    ]
    assert later["total"]["closure_rate"] is None

    for params, reason in (
        ({"since": "2026-02-01", "until": "2026-01-01"}, "must come after"),
        ({"since": (today + timedelta(days=1)).isoformat()}, "by default tomorrow"),
        ({"until": "2026-01-01"}, "by default the month's first"),
        ({"since": "2024-01-01", "until": "2026-01-01"}, "at most 366 days"),
        ({"since": "yesterday"}, "YYYY-MM-DD"),
        ({"since": "1798761600"}, "YYYY-MM-DD"),  # Unix seconds
        ({"since": "2026-12-06T00:00:00"}, "YYYY-MM-DD"),
        ({"since": "2026-13-01"}, "date"),
        ({"since": "0001-01-01", "until": "0001-01-02"}, "in the years 1971 to 8999"),  # was a 500
        ({"since": "9999-12-30", "until": "9999-12-31"}, "in the years 1971 to 8999"),
        # it said "between 1970 and 9000" of a day in 1970
        ({"since": "1970-06-01", "until": "1970-06-02"}, "in the years 1971 to 8999"),
        ({"department": "../cases"}, "pattern"),
    ):
        response = await dispatch.client.get("/v1/figures", params=params, headers=ADMIN)
        assert response.status_code == 422, (params, response.text)
        assert reason in response.text, (reason, response.text)


@pytest.mark.parametrize("timezone", ["Asia/Shanghai", "America/New_York"])
@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01", "until": "0001-01-02"},  # east of UTC: no UTC time, was a 500
        {"since": "9999-12-30", "until": "9999-12-31"},  # west of UTC: past datetime.max, was a 500
        {"since": "1969-12-01", "until": "1970-01-01"},
    ],
)
async def test_a_period_at_the_edge_of_the_calendar_is_422_not_a_500(
    start_dispatch: StartDispatch, timezone: str, params: dict[str, str]
) -> None:
    async with start_dispatch(FakeGrid(), FakeIntake(), timezone=timezone) as dispatch:
        response = await dispatch.client.get("/v1/figures", params=params, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "in the years 1971 to 8999" in response.json()["detail"]


async def test_a_resolution_recorded_before_the_figures_is_judged_by_the_deadline(dispatch: Dispatch) -> None:
    """A ``resolved`` event written before resolutions recorded ``on_time`` (before migration
    dispatch_0009) has none: one after the case's deadline is late, not on time by default."""
    late, in_time = await dispatch.new_case(), await dispatch.new_case(lat=factories.LAT + 0.01)
    for case in (late, in_time):
        await handle(dispatch, case["id"])
        await dispatch.ok(case["id"], "verify", {"passed": True})
    async with session_scope(dispatch.relay.session_maker) as session:
        await session.execute(update(CaseEvent).where(CaseEvent.action == "resolved").values(data={}))
    await dispatch.set_case(late["id"], deadline_at=utcnow() - timedelta(hours=1))

    total = (await figures(dispatch, SUPERVISOR))["total"]
    assert (total["closed"], total["closed_on_time"]) == (2, 1)


async def test_a_late_handling_is_not_charged_to_the_department_the_case_moved_to(dispatch: Dispatch) -> None:
    """Enforcement resolved late, the check failed, the office reassigned the case to works, and
    works resolved it in time: works closed it on time and reworked nothing (it was enforcement
    that was late and sent back)."""
    case = await dispatch.new_case()
    await dispatch.set_case(case["id"], deadline_at=utcnow() - timedelta(minutes=1))
    await handle(dispatch, case["id"])
    await dispatch.ok(case["id"], "verify", {"passed": False, "note": "摊位仍在"})
    await dispatch.ok(case["id"], "reassign", {"department_code": "works", "note": "其实是井盖"})
    await handle(dispatch, case["id"], handler=WORKS_HANDLER)
    closed = await dispatch.ok(case["id"], "verify", {"passed": True})
    resolutions = [e["data"] for e in closed["timeline"] if e["action"] == "resolved"]
    assert resolutions == [
        {"on_time": False, "department_code": "enforcement"},
        {"on_time": True, "department_code": "works"},
    ]

    works = row(await figures(dispatch, SUPERVISOR), "works")
    assert (works["closed"], works["closed_on_time"], works["on_time_closure_rate"]) == (1, 1, 1.0)
    assert (works["reworked"], closed["rework_count"]) == (0, 1)  # enforcement's work was sent back


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://x.example","执法")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
)
async def test_a_department_name_excel_would_run_as_a_formula_is_kept_as_text(
    dispatch: Dispatch, name: str
) -> None:
    """A department's name is free text in grid: one beginning with = + - @ (or a tab or carriage
    return before one) was written as it is, and Excel opened the cell as a formula (CSV
    injection). It goes out behind an apostrophe, so that it is read as text."""
    case = await dispatch.new_case()
    await dispatch.set_case(case["id"], department_name=name)

    answer = await dispatch.client.get("/v1/figures", params={"format": "csv"}, headers=SUPERVISOR)

    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    (row,) = [r for r in rows if r["department_code"] == "enforcement"]
    assert row["department_name"] == "'" + name
    assert (await figures(dispatch, SUPERVISOR))["departments"][0]["department_name"] == name  # JSON as it is


async def test_a_reopened_case_is_rated_anew_and_a_rejected_one_counts_no_rework(dispatch: Dispatch) -> None:
    """An unsatisfied rating reopens the case: it was of the closing the rework undid, and the
    case closed again counted as unsatisfied until someone rated it again. A case sent back and
    then rejected counted as reworked, but not among the cases to close: a rework rate over 1."""
    reopened = await dispatch.new_case()
    await handle(dispatch, reopened["id"])
    await dispatch.ok(reopened["id"], "verify", {"passed": True})
    await dispatch.ok(reopened["id"], "feedback", {"rating": 1, "comment": "摊位又回来了"}, actor=WORKER)
    await handle(dispatch, reopened["id"])
    closed_again = await dispatch.ok(reopened["id"], "verify", {"passed": True})
    assert (closed_again["rating"], closed_again["feedback_comment"]) == (None, None)
    assert [e["data"].get("rating") for e in closed_again["timeline"] if e["action"] == "feedback"] == [1]
    unrated = row(await figures(dispatch, SUPERVISOR), "enforcement")
    assert (unrated["rated"], unrated["unsatisfied"], unrated["reworked"]) == (0, 0, 1)
    await dispatch.ok(reopened["id"], "feedback", {"rating": 5}, actor=WORKER)  # the new closing's

    rejected = await dispatch.new_case(lat=factories.LAT + 0.01)
    await handle(dispatch, rejected["id"])
    await dispatch.ok(rejected["id"], "verify", {"passed": False, "note": "不是这里的问题"})
    await dispatch.ok(rejected["id"], "reject", {"reason": "void", "note": "误报"})

    enforcement = row(await figures(dispatch, SUPERVISOR), "enforcement")
    assert (enforcement["rated"], enforcement["satisfied"], enforcement["unsatisfied"]) == (1, 1, 0)
    assert (enforcement["cases"], enforcement["rejected"], enforcement["to_close"]) == (2, 1, 1)
    assert (enforcement["reworked"], enforcement["rework_rate"]) == (1, 1.0)  # the reopened one only


async def test_a_handler_sees_their_own_department_named_and_grid_down_loses_only_the_zeros(
    dispatch: Dispatch,
) -> None:
    """The departments with no case come from grid: while it is out of reach the figures still
    answer, from dispatch's own cases."""
    await five_cases(dispatch)
    dispatch.grid.down = True
    without_grid = await figures(dispatch, SUPERVISOR)
    assert [d["department_code"] for d in without_grid["departments"]] == ["enforcement", "works", None]

    dispatch.grid.down = False  # a failure is not kept: asked again
    handler = await figures(dispatch, HANDLER)
    assert [d["department_code"] for d in handler["departments"]] == ["enforcement"]
    market = await figures(dispatch, SUPERVISOR, department="market")
    assert [(d["department_code"], d["cases"]) for d in market["departments"]] == [("market", 0)]
    typo = await dispatch.client.get("/v1/figures", params={"department": "markte"}, headers=SUPERVISOR)
    assert (typo.status_code, typo.json()["detail"]) == (404, "no department markte")  # not "no cases"


async def test_a_retired_department_is_named_only_with_cases_or_when_asked_for(dispatch: Dispatch) -> None:
    """grid lists the departments in use; a retired one is still read by its code."""
    await five_cases(dispatch)
    dispatch.grid.departments["market"] = {
        **dispatch.grid.departments["market"],
        "retired_at": "2026-12-01T00:00:00Z",
    }
    dispatch.grid.departments["works"] = {
        **dispatch.grid.departments["works"],
        "retired_at": "2026-12-01T00:00:00Z",
    }

    every = await figures(dispatch, SUPERVISOR)
    market = await figures(dispatch, SUPERVISOR, department="market")

    # works had a case: named; market had none: no longer in the table, but asked for, its zeros.
    assert [d["department_code"] for d in every["departments"]] == ["enforcement", "works", None]
    assert [(d["department_code"], d["cases"]) for d in market["departments"]] == [("market", 0)]


async def test_a_handler_asking_for_another_department_reads_no_zeros_of_it(dispatch: Dispatch) -> None:
    """A handler's figures count their own department's cases only: asked for another's, they
    read it named with zeros (no case, nothing closed), though it had cases."""
    await five_cases(dispatch)

    works = await figures(dispatch, HANDLER, department="works")

    assert works["departments"] == [] and works["total"]["cases"] == 0
    assert row(await figures(dispatch, SUPERVISOR, department="works"), "works")["cases"] == 1
