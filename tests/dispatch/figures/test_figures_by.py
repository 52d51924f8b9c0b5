"""``GET /v1/figures?by=…``: the same figures by category, community or grid cell (热点)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from shared.actors import Role
from shared.db import utcnow
from tests.dispatch import factories
from tests.dispatch.conftest import ADMIN, HANDLER, SUPERVISOR, WORKER, WORKS_HANDLER, Dispatch
from tests.dispatch.fakes import (
    CELL,
    COMMUNITY,
    FAR_CELL,
    FAR_COMMUNITY,
    MANHOLE,
    OTHER,
    OTHER_CELL,
    STALL,
)
from tests.dispatch.figures.test_figures import FAR_WORKER, figures, handle
from tests.support.spreadsheet import rows_shown
from tests.support.tokens import bearer

LEADER = bearer("zheng.wei", Role.grid_leader, regions=[COMMUNITY])


async def six_cases(dispatch: Dispatch) -> None:
    """占道经营 (enforcement): two in the demo cell, one closed on time and rated 5, one overdue,
    and one in the other cell of the community, just dispatched; 井盖缺失 (works): one in the far
    community, closed after a rework; 其他 (no department): one in the demo cell, rejected from
    triage; and one with no category reported outside the grid, waiting in triage."""
    closed = await dispatch.new_case()
    await handle(dispatch, closed["id"])
    await dispatch.ok(closed["id"], "verify", {"passed": True})
    await dispatch.ok(closed["id"], "feedback", {"rating": 5})

    overdue = await dispatch.new_case(lat=factories.LAT + 0.01)
    await dispatch.set_case(overdue["id"], deadline_at=utcnow() - timedelta(minutes=1))

    await dispatch.new_case(lat=factories.LAT + 0.02, grid_cell=OTHER_CELL)

    reworked = await dispatch.new_case(
        lat=factories.LAT + 0.03, category=MANHOLE, grid_cell=FAR_CELL, community=FAR_COMMUNITY
    )
    await handle(dispatch, reworked["id"], handler=WORKS_HANDLER)
    await dispatch.ok(reworked["id"], "verify", {"passed": False, "note": "井盖仍松动"}, actor=FAR_WORKER)
    await handle(dispatch, reworked["id"], handler=WORKS_HANDLER)
    await dispatch.ok(reworked["id"], "verify", {"passed": True}, actor=FAR_WORKER)

    rejected = await dispatch.new_case(lat=factories.LAT + 0.04, category=OTHER)
    await dispatch.ok(rejected["id"], "reject", {"reason": "void"})

    nowhere = await dispatch.new_case(lat=factories.LAT + 0.05, category=None, grid_cell=None, community=None)
    assert (nowhere["status"], nowhere["category_code"], nowhere["grid_cell"]) == ("triage", None, None)


def keyed(body: dict[str, Any]) -> list[tuple[str | None, int]]:
    return [(g["key"], g["cases"]) for g in body["groups"]]


async def test_the_cases_by_category_as_counted_by_hand(dispatch: Dispatch) -> None:
    await six_cases(dispatch)
    body = await figures(dispatch, SUPERVISOR, by="category")

    assert body["by"] == "category" and "departments" not in body
    # the most cases first; 井盖缺失 and 其他 one each, in code order; no category last
    assert keyed(body) == [(STALL, 3), (MANHOLE, 1), (OTHER, 1), (None, 1)]
    stall, manhole, other, none = body["groups"]
    assert stall["name"] == "占道经营" and manhole["name"] == "井盖缺失" and none["name"] is None
    counted = ("to_close", "closed", "closed_on_time", "overdue", "rated", "satisfied")
    assert [stall[k] for k in counted] == [3, 1, 1, 1, 1, 1]
    assert (stall["closure_rate"], stall["satisfaction_rate"], stall["mean_rating"]) == (0.3333, 1.0, 5.0)
    assert (manhole["closed_on_time"], manhole["reworked"], manhole["rework_rate"]) == (1, 1, 1.0)
    assert (other["rejected"], other["to_close"], other["closure_rate"]) == (1, 0, None)
    assert (none["cases"], none["to_close"], none["closed"]) == (1, 1, 0)

    by_department = await figures(dispatch, SUPERVISOR)
    assert body["total"] == by_department["total"]  # the same cases, grouped otherwise
    assert body["total"]["cases"] == 6


async def test_the_cases_by_community_and_by_grid_cell(dispatch: Dispatch) -> None:
    await six_cases(dispatch)

    community = await figures(dispatch, SUPERVISOR, by="community")
    cell = await figures(dispatch, SUPERVISOR, by="grid_cell")

    assert keyed(community) == [(COMMUNITY, 4), (FAR_COMMUNITY, 1), (None, 1)]
    assert keyed(cell) == [(CELL, 3), (OTHER_CELL, 1), (FAR_CELL, 1), (None, 1)]  # ties by code
    assert [g["name"] for g in community["groups"]] == ["镇海社区", "仁安社区", None]  # grid's names
    cell_names = [g["name"] for g in cell["groups"]]
    assert cell_names == ["镇海社区第1网格", "镇海社区第2网格", "仁安社区第1网格", None]
    demo = cell["groups"][0]
    assert (demo["rejected"], demo["to_close"], demo["closed"], demo["overdue"]) == (1, 2, 1, 1)
    assert demo["closure_rate"] == 0.5
    assert community["total"] == cell["total"] == (await figures(dispatch, SUPERVISOR))["total"]


async def test_the_default_is_by_department_as_it_was(dispatch: Dispatch) -> None:
    await six_cases(dispatch)
    default = await figures(dispatch, SUPERVISOR)
    assert list(default) == ["since", "until", "timezone", "total", "departments"]
    assert await figures(dispatch, SUPERVISOR, by="department") == default


async def test_each_reader_groups_the_cases_of_their_post(dispatch: Dispatch) -> None:
    await six_cases(dispatch)

    assert keyed(await figures(dispatch, HANDLER, by="category")) == [(STALL, 3)]
    assert keyed(await figures(dispatch, WORKS_HANDLER, by="grid_cell")) == [(FAR_CELL, 1)]
    assert keyed(await figures(dispatch, WORKER, by="grid_cell")) == [(CELL, 3)]
    assert keyed(await figures(dispatch, WORKER, by="category")) == [(STALL, 2), (OTHER, 1)]
    assert keyed(await figures(dispatch, LEADER, by="grid_cell")) == [(CELL, 3), (OTHER_CELL, 1)]
    assert keyed(await figures(dispatch, FAR_WORKER, by="community")) == [(FAR_COMMUNITY, 1)]


async def test_one_departments_cases_by_category_and_cell(dispatch: Dispatch) -> None:
    """``department`` narrows the groups to that department's cases: what it mostly handles."""
    await six_cases(dispatch)

    enforcement = await figures(dispatch, ADMIN, department="enforcement", by="category")
    assert keyed(enforcement) == [(STALL, 3)] and enforcement["total"]["cases"] == 3
    assert keyed(await figures(dispatch, ADMIN, department="works", by="grid_cell")) == [(FAR_CELL, 1)]

    market = await figures(dispatch, ADMIN, department="market", by="category")  # known, no case
    assert (market["groups"], market["total"]["cases"]) == ([], 0)
    other = await figures(dispatch, HANDLER, department="works", by="category")  # not theirs to count
    assert (other["groups"], other["total"]["cases"]) == ([], 0)
    typo = await dispatch.client.get(
        "/v1/figures", params={"department": "markte", "by": "category"}, headers=ADMIN
    )
    assert (typo.status_code, typo.json()["detail"]) == (404, "no department markte")


@pytest.mark.parametrize("by", ["cell", "Category", "department,category", ""])
async def test_an_unknown_grouping_is_a_422(dispatch: Dispatch, by: str) -> None:
    response = await dispatch.client.get("/v1/figures", params={"by": by}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "category" in response.text and "grid_cell" in response.text  # names what it takes


def spreadsheet_rows(content: bytes) -> list[dict[str, str]]:
    return rows_shown(content)


async def test_the_groups_as_a_spreadsheet_a_row_a_group_and_the_total_last(dispatch: Dispatch) -> None:
    await six_cases(dispatch)
    as_json = await figures(dispatch, SUPERVISOR, by="category")

    answer = await dispatch.client.get(
        "/v1/figures", params={"by": "category", "format": "csv"}, headers=SUPERVISOR
    )

    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    last = (date.fromisoformat(as_json["until"]) - timedelta(days=1)).isoformat()
    name = f"figures-by-category-{as_json['since']}-{last}.csv"
    assert answer.headers["content-disposition"] == f'attachment; filename="{name}"'
    rows = spreadsheet_rows(answer.content)
    assert list(rows[0])[:3] == ["key", "name", "cases"]
    assert [(r["key"], r["name"], r["cases"]) for r in rows] == [
        (STALL, "占道经营", "3"),
        (MANHOLE, "井盖缺失", "1"),
        (OTHER, "其他", "1"),
        ("", "未分类", "1"),
        ("total", "合计", "6"),
    ]
    assert (rows[0]["closure_rate"], rows[0]["mean_rating"], rows[2]["closure_rate"]) == ("0.3333", "5.0", "")

    cells = await dispatch.client.get(
        "/v1/figures", params={"by": "grid_cell", "format": "csv"}, headers=SUPERVISOR
    )
    assert 'filename="figures-by-grid-cell-' in cells.headers["content-disposition"]
    assert [(r["key"], r["name"]) for r in spreadsheet_rows(cells.content)] == [
        (CELL, "镇海社区第1网格"),
        (OTHER_CELL, "镇海社区第2网格"),
        (FAR_CELL, "仁安社区第1网格"),
        ("", "无网格"),
        ("total", "合计"),
    ]
    community = await dispatch.client.get(
        "/v1/figures", params={"by": "community", "format": "csv"}, headers=SUPERVISOR
    )
    community_names = [r["name"] for r in spreadsheet_rows(community.content)]
    assert community_names == ["镇海社区", "仁安社区", "无社区", "合计"]


async def test_a_category_name_excel_would_run_as_a_formula_is_kept_as_text(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    await dispatch.set_case(case["id"], category_name='=HYPERLINK("http://x.example","占道")')

    answer = await dispatch.client.get(
        "/v1/figures", params={"by": "category", "format": "csv"}, headers=SUPERVISOR
    )

    assert spreadsheet_rows(answer.content)[0]["name"] == '\'=HYPERLINK("http://x.example","占道")'


async def test_the_groups_need_no_grid(dispatch: Dispatch) -> None:
    """The groups come from dispatch's own cases: grid out of reach, they answer the same (a
    `department` with no case is then not checked, as by department)."""
    await six_cases(dispatch)
    answered = await figures(dispatch, SUPERVISOR, by="category")
    dispatch.grid.down = True

    assert await figures(dispatch, SUPERVISOR, by="category") == answered
    unchecked = await figures(dispatch, SUPERVISOR, by="category", department="markte")
    assert unchecked["groups"] == []
