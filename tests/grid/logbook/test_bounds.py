"""Every text, list and number of the daily log is bounded: beyond, a 422 problem saying which."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from services.grid.logbook import rules
from tests.grid.factories import CELL_A1
from tests.grid.logbook.conftest import As, Write, day
from tests.support.cursors import forged

REPORT = "5f0c2a1e-8d3c-4b6a-9f7e-2d1c0b9a8e7f"


@pytest.mark.usefixtures("team")
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"patrol": ""}, "patrol"),
        ({"patrol": "   "}, "patrol"),
        ({"patrol": "巡" * 2001}, "patrol"),
        ({"patrol": "a\x00b"}, "patrol"),
        ({"concerns": ["噪音"] * 31}, "concerns"),
        ({"concerns": ["噪" * 201]}, "concerns"),
        ({"concerns": [" "]}, "concerns"),
        ({"concerns": "噪音"}, "concerns"),
        ({"households_visited": 501}, "households_visited"),
        ({"households_visited": -1}, "households_visited"),
        ({"households_visited": "5"}, "households_visited"),
        ({"report_ids": [REPORT] * 51}, "report_ids"),
        ({"report_ids": ["not-a-uuid"]}, "report_ids"),
        ({"grid_cell": "350203001001"}, "grid_cell"),
        ({"day": "2026-12-05T00:00:00+08:00"}, "day"),
        ({"author": "li.na"}, "author"),
    ],
)
async def test_bounds_give_a_422_naming_the_field(write: Write, fields: dict[str, Any], named: str) -> None:
    fields = {"grid_cell": CELL_A1, **fields}
    refused = await write("wang.fang", **fields)
    assert refused.status_code == 422, refused.text
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert named in refused.text


@pytest.mark.usefixtures("team")
async def test_the_largest_entry_is_taken(write: Write) -> None:
    taken = await write(
        "wang.fang",
        CELL_A1,
        patrol="巡" * 2000,
        concerns=["噪" * 200] * 30,
        households_visited=500,
        report_ids=[f"00000000-0000-4000-8000-{n:012d}" for n in range(50)],
    )
    assert taken.status_code == 201, taken.text


@pytest.mark.usefixtures("team")
@pytest.mark.parametrize(
    "params",
    [
        {"day": day(0), "since": day(-1)},
        {"since": day(0), "until": day(0)},
        {"since": "2025-01-01", "until": "2026-01-03"},
        {"day": "20261205"},
        {"grid_cell": "3502"},
        {"community": "35020300100101"},
        {"author": "Wang Fang"},
        {"limit": 101},
        {"cursor": forged({"day": "2026-12-05", "id": "x"})},
        {"order": "oldest"},
    ],
)
async def test_a_list_asked_out_of_bounds_is_a_422(
    anonymous: httpx.AsyncClient, as_: As, params: dict[str, Any]
) -> None:
    refused = await anonymous.get("/v1/patrol-logs", params=params, headers=as_("hong.yi"))
    assert refused.status_code == 422, refused.text
    assert refused.headers["Content-Type"] == "application/problem+json"


def test_the_days_an_entry_is_written_and_corrected() -> None:
    today = date(2026, 12, 5)
    assert rules.writing_problem(today, today) is None
    assert rules.writing_problem(date(2026, 12, 4), today) is None
    assert "after today" in (rules.writing_problem(date(2026, 12, 6), today) or "")
    assert "is past" in (rules.writing_problem(date(2026, 12, 3), today) or "")
    assert rules.correction_problem(date(2026, 12, 4), today) is None
    assert "kept as written" in (rules.correction_problem(date(2026, 12, 3), today) or "")
    assert rules.period_problem(None, date(2025, 12, 5), date(2026, 12, 6)) is None  # 366 days
    assert rules.period_problem(None, date(2025, 12, 5), date(2026, 12, 7)) is not None
    assert rules.period_problem(None, date(2020, 1, 1), None) is None  # one end alone: open
