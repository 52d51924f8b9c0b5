"""The monthly figures of the daily logs (网格员考核): each worker in the reader's scope, zeros
for one who logged nothing, over the office month so far unless asked otherwise."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.grid.logbook import export
from tests.grid.factories import CELL_A1, CELL_A2, CELL_B1, COMMUNITY_A, COMMUNITY_B
from tests.grid.logbook.conftest import As, Clock, Write, day

pytestmark = pytest.mark.usefixtures("team")

FIGURES = "/v1/patrol-logs/figures"
ZEROS = {"days_logged": 0, "entries": 0, "households_visited": 0, "concerns": 0, "last_day": None}


async def _wrote(write: Write, username: str, cell: str, offset: int = 0, **fields: Any) -> None:
    response = await write(username, cell, day=day(offset), **fields)
    assert response.status_code == 201, response.text


async def _figures(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(FIGURES, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _people(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {person["username"]: person for person in body["people"]}


async def test_a_leader_assesses_exactly_their_communitys_workers_with_zeros_for_one_who_logged_nothing(
    anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    await _wrote(write, "wang.fang", CELL_A1, households_visited=3)
    await _wrote(write, "li.na", CELL_A2, -1, households_visited=5)
    await _wrote(write, "zhang.wei", CELL_B1, households_visited=7)

    body = await _figures(anonymous, as_("lin.zhiming"))
    # Not community B's worker, nor the inactive one of A1 who wrote nothing, nor the one with no
    # cell; zhou.jie, who logged nothing, with zeros: by username.
    assert [(p["username"], p["role"], p["grid_cells"]) for p in body["people"]] == [
        ("li.na", "grid_worker", [CELL_A2]),
        ("wang.fang", "grid_worker", [CELL_A1, CELL_A2]),
        ("zhou.jie", "grid_assistant", [CELL_A1]),
    ]
    people = _people(body)
    assert people["zhou.jie"] | ZEROS == people["zhou.jie"]
    assert people["li.na"]["households_visited"] == 5
    assert people["li.na"]["last_day"] == day(-1)
    assert body["total"] == {
        "days_logged": 2,
        "entries": 2,
        "households_visited": 8,
        "concerns": 0,
        "last_day": day(0),
    }

    other = await _figures(anonymous, as_("huang.meiling"))
    assert [(p["username"], p["entries"]) for p in other["people"]] == [("zhang.wei", 1)]

    office = await _figures(anonymous, as_("hong.yi"))
    assert [p["username"] for p in office["people"]] == ["li.na", "wang.fang", "zhang.wei", "zhou.jie"]
    assert office["total"]["households_visited"] == 15
    narrowed = await _figures(anonymous, as_("hong.yi"), community=COMMUNITY_B)
    assert [p["username"] for p in narrowed["people"]] == ["zhang.wei"]
    # A filter narrows a leader's figures, never widens them.
    assert (await _figures(anonymous, as_("lin.zhiming"), community=COMMUNITY_B))["people"] == []


async def test_days_logged_counts_distinct_days_and_concerns_each_one_heard(
    anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    await _wrote(write, "wang.fang", CELL_A1, concerns=["3号楼夜间装修噪音扰民", "独居老人需探访"])
    await _wrote(write, "wang.fang", CELL_A2, concerns=["楼道堆物"], households_visited=4)
    await _wrote(write, "wang.fang", CELL_A2, -1, households_visited=2)

    wang = _people(await _figures(anonymous, as_("lin.zhiming")))["wang.fang"]
    # Two cells on one day are one day logged and two entries.
    assert {k: wang[k] for k in ZEROS} == {
        "days_logged": 2,
        "entries": 3,
        "households_visited": 6,
        "concerns": 3,
        "last_day": day(0),
    }
    today = _people(await _figures(anonymous, as_("hong.yi"), since=day(0)))["wang.fang"]
    assert (today["days_logged"], today["entries"], today["concerns"]) == (1, 2, 3)


async def test_the_default_period_is_the_office_month_so_far(
    anonymous: httpx.AsyncClient, as_: As, write: Write, clock: Clock
) -> None:
    # 00:30 on 1 December in Xiamen, still 30 November in UTC: the month so far is one day.
    clock(datetime(2026, 11, 30, 16, 30, tzinfo=UTC))
    assert (await write("wang.fang", CELL_A1, day="2026-11-30")).status_code == 201
    assert (await write("wang.fang", CELL_A2, day="2026-12-01")).status_code == 201

    body = await _figures(anonymous, as_("lin.zhiming"))
    assert (body["since"], body["until"], body["timezone"]) == ("2026-12-01", "2026-12-02", "Asia/Shanghai")
    wang = _people(body)["wang.fang"]
    assert (wang["entries"], wang["last_day"]) == (1, "2026-12-01")

    asked = await _figures(anonymous, as_("lin.zhiming"), since="2026-11-01")
    assert (asked["since"], asked["until"]) == ("2026-11-01", "2026-12-02")
    assert _people(asked)["wang.fang"]["days_logged"] == 2


async def test_who_left_or_moved_is_still_assessed_for_what_they_wrote(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    await _wrote(write, "li.na", CELL_A2, households_visited=5)
    await _wrote(write, "zhou.jie", CELL_A1)
    moved = await client.put("/v1/staff/li.na/assignments", json={"region_codes": [CELL_B1]})
    assert moved.status_code == 200, moved.text
    record = await client.get("/v1/staff/zhou.jie")
    left = await client.patch(
        "/v1/staff/zhou.jie", json={"active": False}, headers={"If-Match": record.headers["etag"]}
    )
    assert left.status_code == 200, left.text

    people = _people(await _figures(anonymous, as_("lin.zhiming")))
    assert sorted(people) == ["li.na", "wang.fang", "zhou.jie"]
    assert (people["li.na"]["grid_cells"], people["li.na"]["households_visited"]) == ([CELL_B1], 5)
    assert people["zhou.jie"]["entries"] == 1
    # li.na's new leader sees her, with none of the entries written in community A.
    assert _people(await _figures(anonymous, as_("huang.meiling")))["li.na"]["entries"] == 0


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"since": "2026-01-01", "until": "2027-01-03"}, "at most 366 days"),
        ({"since": "2026-12-05", "until": "2026-12-05"}, "must come after since"),
        ({"since": "2026-12-20"}, "until 2026-12-06 is tomorrow"),
        ({"until": "2026-11-15"}, "since 2026-12-01 is the month's first"),
        ({"since": "2026-13-01"}, "query.since: Input should be a valid date"),
        ({"community": COMMUNITY_A + "0"}, "query.community: String should have at most 12 characters"),
    ],
)
async def test_a_bad_period_or_community_is_a_422_saying_why(
    anonymous: httpx.AsyncClient, as_: As, params: dict[str, str], said: str
) -> None:
    refused = await anonymous.get(FIGURES, params=params, headers=as_("hong.yi"))
    assert refused.status_code == 422, refused.text
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert said in refused.json()["detail"]


async def test_writers_handlers_and_integrations_get_403(
    anonymous: httpx.AsyncClient, as_: As, bearer: Any
) -> None:
    for headers in (
        as_("wang.fang"),
        as_("zhou.jie"),
        as_("ke.jianhua"),
        bearer("integration", scopes=["reports:create", "reports:read"]),
    ):
        assert (await anonymous.get(FIGURES, headers=headers)).status_code == 403
    assert (await anonymous.get(FIGURES)).status_code == 401


async def test_the_figures_as_a_spreadsheet_a_row_a_person_then_the_total(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    await _wrote(write, "wang.fang", CELL_A1, concerns=["噪音", "堆物"], households_visited=3)
    await _wrote(write, "wang.fang", CELL_A2, -1, households_visited=2)
    record = await client.get("/v1/staff/zhou.jie")
    renamed = await client.patch(
        "/v1/staff/zhou.jie", json={"name": "=1+1"}, headers={"If-Match": record.headers["etag"]}
    )
    assert renamed.status_code == 200, renamed.text

    answer = await anonymous.get(FIGURES, params={"format": "csv"}, headers=as_("lin.zhiming"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8, not GBK
    disposition = answer.headers["content-disposition"]
    assert re.fullmatch(
        r'attachment; filename="patrol-log-figures-\d{4}-\d{2}-\d{2}-\d{4}\.csv"', disposition
    )
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == list(export.FIGURES_COLUMNS)
    assert [row["username"] for row in rows] == ["li.na", "wang.fang", "zhou.jie", "total"]
    wang = rows[1]
    assert wang["grid_cells"] == f"{CELL_A1} {CELL_A2}"
    assert [wang[k] for k in ZEROS] == ["2", "2", "5", "2", day(0)]
    assert (rows[2]["name"], rows[2]["days_logged"], rows[2]["last_day"]) == ("'=1+1", "0", "")
    assert (rows[3]["name"], rows[3]["entries"], rows[3]["last_day"]) == ("合计", "2", day(0))
