"""``GET /v1/patrol-logs?format=csv``: the daily logs as the office's ledger (台账), every page of it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from services.grid.logbook import export
from tests.grid.factories import CELL_A1, CELL_A2, CELL_B1
from tests.grid.logbook.conftest import As, Write, day
from tests.support.spreadsheet import rows_shown

pytestmark = pytest.mark.usefixtures("team")
REPORT = "5f0c2a1e-8d3c-4b6a-9f7e-2d1c0b9a8e7f"


async def ledger(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, str]]:
    answer = await client.get("/v1/patrol-logs", params={**params, "format": "csv"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8, not GBK
    disposition = answer.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="patrol-logs-\d{4}-\d{2}-\d{2}-\d{4}\.csv"', disposition)
    return rows_shown(answer.content)


async def test_the_ledger_holds_every_entry_the_reader_lists_in_its_order(
    anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    posted = [
        await write("wang.fang", CELL_A1, day=day(-1)),
        await write(
            "wang.fang",
            CELL_A2,
            concerns=["3号楼夜间装修噪音扰民", "独居老人需定期探访"],
            households_visited=12,
            report_ids=[REPORT],
        ),
        await write("zhang.wei", CELL_B1),
    ]
    assert all(p.status_code == 201 for p in posted), [p.text for p in posted]
    office = as_("hong.yi")
    listed = (await anonymous.get("/v1/patrol-logs", headers=office)).json()["items"]

    rows = await ledger(anonymous, office)
    assert [int(row["id"]) for row in rows] == [item["id"] for item in listed]
    assert list(rows[0]) == list(export.COLUMNS)
    a2 = next(row for row in rows if row["grid_cell"] == CELL_A2)
    assert a2["day"] == day(0) and a2["grid_cell_name"] == "镇海第2网格"
    assert (a2["author"], a2["author_name"]) == ("wang.fang", "wang.fang")
    assert a2["concerns"] == "3号楼夜间装修噪音扰民；独居老人需定期探访"
    assert (a2["households_visited"], a2["report_ids"]) == ("12", REPORT)
    assert a2["created_at"].endswith("+08:00")  # office time, as the day is

    # a leader's ledger is their community's; a worker's their own; filters as the list's
    assert {row["grid_cell"] for row in await ledger(anonymous, as_("lin.zhiming"))} == {CELL_A1, CELL_A2}
    assert [row["author"] for row in await ledger(anonymous, as_("zhang.wei"))] == ["zhang.wei"]
    assert [row["grid_cell"] for row in await ledger(anonymous, office, day=day(-1))] == [CELL_A1]
    assert await ledger(anonymous, office, since=day(1)) == []


async def test_text_excel_would_run_as_a_formula_is_kept_as_text(
    anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'
    assert (await write("li.na", CELL_A2, patrol=formula, concerns=["+1"])).status_code == 201
    [row] = await ledger(anonymous, as_("hong.yi"))
    assert (row["patrol"], row["concerns"]) == (f"'{formula}", "'+1")


async def test_a_cursor_a_bad_period_or_more_than_a_file_takes_is_a_422(
    anonymous: httpx.AsyncClient, as_: As, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = as_("hong.yi")
    for params in ({"cursor": "x"}, {"since": day(-400), "until": day(0)}, {"day": day(0), "since": day(0)}):
        answer = await anonymous.get("/v1/patrol-logs", params={**params, "format": "csv"}, headers=office)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"

    for cell in (CELL_A1, CELL_A2):
        assert (await write("wang.fang", cell)).status_code == 201
    monkeypatch.setattr(export, "MAX_EXPORT_ROWS", 1)
    refused = await anonymous.get("/v1/patrol-logs", params={"format": "csv"}, headers=office)
    assert refused.status_code == 422
    assert "more than 1 entries" in refused.json()["detail"] and "shorter period" in refused.json()["detail"]
    assert len(await ledger(anonymous, office, grid_cell=CELL_A1)) == 1  # narrowed, it fits
