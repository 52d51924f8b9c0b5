"""Writing and correcting the daily log: one's own cells, once a cell and day, on its day or the next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from services.grid.settings import GridSettings
from tests.grid.factories import CELL_A1, CELL_A2, CELL_B1
from tests.grid.logbook.conftest import NOON, As, Clock, Write, day

pytestmark = pytest.mark.usefixtures("team")


async def test_a_worker_logs_their_cell_and_reads_it_back(
    anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    report = "5f0c2a1e-8d3c-4b6a-9f7e-2d1c0b9a8e7f"
    created = await write(
        "wang.fang",
        CELL_A1,
        patrol="巡查中山路、镇海路沿线，88号门口占道摆摊已上报",
        concerns=["3号楼夜间装修噪音扰民", "  独居老人陈阿婆需定期探访  "],
        households_visited=12,
        report_ids=[report, report],
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["Location"] == f"/v1/patrol-logs/{body['id']}"
    assert created.headers["ETag"] == '"1"'
    assert body["author"] == "wang.fang"
    assert body["day"] == day(0)  # by default today, in the office's time zone
    assert body["grid_cell"] == CELL_A1
    assert body["concerns"] == ["3号楼夜间装修噪音扰民", "独居老人陈阿婆需定期探访"]
    assert body["households_visited"] == 12
    assert body["report_ids"] == [report]  # a reference named twice is one
    assert body["editable_until"] == day(1)

    fetched = await anonymous.get(created.headers["Location"], headers=as_("wang.fang"))
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert fetched.headers["ETag"] == '"1"'
    listed = await anonymous.get("/v1/patrol-logs", headers=as_("wang.fang"))
    assert listed.json()["items"] == [body]


async def test_an_assistant_logs_too_and_yesterday_may_be_written_today(write: Write) -> None:
    created = await write("zhou.jie", CELL_A1, day=day(-1))
    assert created.status_code == 201, created.text
    assert (created.json()["day"], created.json()["editable_until"]) == (day(-1), day(0))


async def test_a_cell_not_theirs_is_a_422_naming_it(write: Write) -> None:
    refused = await write("wang.fang", CELL_B1)
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    detail = refused.json()["detail"]
    assert CELL_B1 in detail
    assert f"{CELL_A1}, {CELL_A2}" in detail  # and which are theirs

    unassigned = await write("new.worker", CELL_A1)
    assert unassigned.status_code == 422
    assert "assigned none" in unassigned.json()["detail"]


async def test_a_second_entry_for_the_same_cell_and_day_is_a_409_naming_the_first(write: Write) -> None:
    first = await write("wang.fang", CELL_A1)
    assert first.status_code == 201
    again = await write("wang.fang", CELL_A1, patrol="再次提交")
    assert again.status_code == 409
    problem = again.json()
    assert problem["log_id"] == first.json()["id"]
    assert problem["log_url"] == first.headers["Location"]
    assert first.headers["Location"] in problem["detail"]

    # Another cell the same day, the same cell another day, another worker the same cell: new entries.
    assert (await write("wang.fang", CELL_A2)).status_code == 201
    assert (await write("wang.fang", CELL_A1, day=day(-1))).status_code == 201
    assert (await write("zhou.jie", CELL_A1)).status_code == 201


@pytest.mark.parametrize(("offset", "words"), [(1, "after today"), (-2, "is past"), (-30, "is past")])
async def test_a_day_ahead_or_before_yesterday_is_a_422(write: Write, offset: int, words: str) -> None:
    refused = await write("wang.fang", CELL_A1, day=day(offset))
    assert refused.status_code == 422
    assert words in refused.json()["detail"]


async def test_the_day_is_the_office_day(write: Write, clock: Clock) -> None:
    """23:30 in Xiamen is 15:30 UTC: the entry is for that Xiamen day; at 00:30 the next."""
    clock(datetime(2026, 12, 5, 15, 30, tzinfo=UTC))
    evening = await write("wang.fang", CELL_A1)
    clock(datetime(2026, 12, 5, 16, 30, tzinfo=UTC))
    after_midnight = await write("wang.fang", CELL_A2)
    assert (evening.json()["day"], after_midnight.json()["day"]) == ("2026-12-05", "2026-12-06")


def test_an_office_time_zone_grid_does_not_know_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a time zone"):
        GridSettings(environment="test", data_dir=tmp_path, timezone="Asia/Xiamen")
    assert GridSettings(environment="test", data_dir=tmp_path).timezone == "Asia/Shanghai"


async def test_the_author_corrects_on_its_day_and_the_next_and_not_two_days_later(
    anonymous: httpx.AsyncClient, as_: As, write: Write, clock: Clock
) -> None:
    created = await write("wang.fang", CELL_A1, households_visited=3)
    url = created.headers["Location"]
    worker = as_("wang.fang")

    unconditional = await anonymous.patch(url, json={"households_visited": 4}, headers=worker)
    assert unconditional.status_code == 428
    corrected = await anonymous.patch(
        url, json={"households_visited": 4, "concerns": ["楼道堆物"]}, headers={**worker, "If-Match": '"1"'}
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.headers["ETag"] == '"2"'
    assert (corrected.json()["households_visited"], corrected.json()["concerns"]) == (4, ["楼道堆物"])
    assert corrected.json()["patrol"] == created.json()["patrol"]  # left out, kept
    stale = await anonymous.patch(url, json={"households_visited": 5}, headers={**worker, "If-Match": '"1"'})
    assert stale.status_code == 412
    nothing = await anonymous.patch(url, json={}, headers={**worker, "If-Match": '"2"'})
    assert (nothing.status_code, nothing.headers["ETag"]) == (200, '"2"')  # no correction, no new version

    clock(NOON + timedelta(days=1))  # the next day: still
    next_day = await anonymous.patch(
        url, json={"households_visited": 5}, headers={**worker, "If-Match": '"2"'}
    )
    assert next_day.status_code == 200, next_day.text

    clock(datetime(2026, 12, 6, 16, 30, tzinfo=UTC))  # 00:30 two days on in Xiamen (UTC: still the next day)
    kept = await anonymous.patch(url, json={"households_visited": 6}, headers={**worker, "If-Match": '"3"'})
    assert kept.status_code == 409
    assert "kept as written" in kept.json()["detail"]
    assert kept.json()["editable_until"] == day(1)
    assert (await anonymous.get(url, headers=worker)).json()["households_visited"] == 5


async def test_nobody_else_edits_it(anonymous: httpx.AsyncClient, as_: As, write: Write) -> None:
    url = (await write("wang.fang", CELL_A1)).headers["Location"]
    change = {"patrol": "改写"}
    # Another worker of the same cell cannot read it, so it is no entry to them.
    other = await anonymous.patch(url, json=change, headers={**as_("zhou.jie"), "If-Match": "*"})
    assert other.status_code == 404
    for reader in ("lin.zhiming", "hong.yi"):  # they read it, and may not change it
        refused = await anonymous.patch(url, json=change, headers={**as_(reader), "If-Match": "*"})
        assert refused.status_code == 403, reader


async def test_the_day_and_the_cell_are_not_corrected(
    anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    url = (await write("wang.fang", CELL_A1)).headers["Location"]
    headers = {**as_("wang.fang"), "If-Match": "*"}
    for change in ({"grid_cell": CELL_A2}, {"day": day(-1)}, {"author": "li.na"}, {"patrol": None}):
        refused = await anonymous.patch(url, json=change, headers=headers)
        assert refused.status_code == 422, change


async def test_a_worker_deactivated_since_their_token_writes_and_corrects_nothing(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    """A token stays good for its minutes after an admin deactivates its holder: the log asks
    grid whether its writer is still active, as it asks for their cells."""
    url = (await write("wang.fang", CELL_A1)).headers["Location"]
    etag = (await anonymous.get(url, headers=as_("wang.fang"))).headers["ETag"]
    record = await client.get("/v1/staff/wang.fang")
    left = await client.patch(
        "/v1/staff/wang.fang", json={"active": False}, headers={"If-Match": record.headers["ETag"]}
    )
    assert left.status_code == 200, left.text

    refused = await write("wang.fang", CELL_A2)
    assert refused.status_code == 403 and "deactivated" in refused.json()["detail"]
    corrected = await anonymous.patch(
        url, json={"patrol": "改写"}, headers={**as_("wang.fang"), "If-Match": etag}
    )
    assert corrected.status_code == 403
    # and a leader deactivated reads no community's logs
    record = await client.get("/v1/staff/lin.zhiming")
    gone = {"If-Match": record.headers["ETag"]}
    assert (
        await client.patch("/v1/staff/lin.zhiming", json={"active": False}, headers=gone)
    ).status_code == 200
    listed = await anonymous.get("/v1/patrol-logs", headers=as_("lin.zhiming"))
    assert listed.json()["items"] == []
