"""Reading the daily logs: each reader what is theirs to read; the leader's check of who has not logged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.grid.factories import CELL_A1, CELL_A2, CELL_B1, CELL_B2, COMMUNITY_B
from tests.grid.logbook.conftest import As, Clock, Write, day

pytestmark = pytest.mark.usefixtures("team")


async def _written(write: Write, username: str, cell: str, offset: int = 0) -> dict[str, Any]:
    response = await write(username, cell, day=day(offset))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _ids(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[int]:
    response = await client.get("/v1/patrol-logs", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_a_leader_sees_their_communitys_entries_and_not_anothers(
    anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    a1 = await _written(write, "wang.fang", CELL_A1)
    a2 = await _written(write, "li.na", CELL_A2)
    b1 = await _written(write, "zhang.wei", CELL_B1)

    assert await _ids(anonymous, as_("lin.zhiming")) == [a2["id"], a1["id"]]
    assert await _ids(anonymous, as_("huang.meiling")) == [b1["id"]]
    hidden = await anonymous.get(f"/v1/patrol-logs/{b1['id']}", headers=as_("lin.zhiming"))
    assert hidden.status_code == 404
    seen = await anonymous.get(f"/v1/patrol-logs/{a1['id']}", headers=as_("lin.zhiming"))
    assert seen.status_code == 200
    # Filters narrow what the reader sees; they never widen it.
    assert await _ids(anonymous, as_("lin.zhiming"), community=COMMUNITY_B) == []
    assert await _ids(anonymous, as_("lin.zhiming"), author="zhang.wei") == []


async def test_a_worker_reads_only_their_own(anonymous: httpx.AsyncClient, as_: As, write: Write) -> None:
    own = await _written(write, "zhou.jie", CELL_A1)
    other = await _written(write, "wang.fang", CELL_A1)  # the same cell, someone else's
    assert await _ids(anonymous, as_("zhou.jie")) == [own["id"]]
    assert (await anonymous.get(f"/v1/patrol-logs/{other['id']}", headers=as_("zhou.jie"))).status_code == 404


async def test_the_office_reads_every_entry_newest_day_first_and_filters_them(
    anonymous: httpx.AsyncClient, as_: As, write: Write
) -> None:
    old = await _written(write, "wang.fang", CELL_A1, -1)
    a1 = await _written(write, "wang.fang", CELL_A1)
    a2 = await _written(write, "wang.fang", CELL_A2)
    b2 = await _written(write, "zhang.wei", CELL_B2, -1)
    office = as_("hong.yi")

    assert await _ids(anonymous, office) == [a2["id"], a1["id"], b2["id"], old["id"]]
    assert await _ids(anonymous, office, day=day(-1)) == [b2["id"], old["id"]]
    assert await _ids(anonymous, office, since=day(0)) == [a2["id"], a1["id"]]
    assert await _ids(anonymous, office, until=day(0)) == [b2["id"], old["id"]]
    assert await _ids(anonymous, office, since=day(-1), until=day(0)) == [b2["id"], old["id"]]
    assert await _ids(anonymous, office, grid_cell=CELL_A1) == [a1["id"], old["id"]]
    assert await _ids(anonymous, office, community=COMMUNITY_B) == [b2["id"]]
    assert await _ids(anonymous, office, author="wang.fang", day=day(0)) == [a2["id"], a1["id"]]

    pages: list[int] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = (await anonymous.get("/v1/patrol-logs", params=params, headers=office)).json()
        pages += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert pages == [a2["id"], a1["id"], b2["id"], old["id"]]


async def test_the_missing_list_names_exactly_the_workers_without_an_entry(
    anonymous: httpx.AsyncClient, as_: As, write: Write, clock: Clock
) -> None:
    await _written(write, "wang.fang", CELL_A2)  # one cell of two: logged
    await _written(write, "li.na", CELL_A2, -1)  # yesterday only

    leader = await anonymous.get("/v1/patrol-logs/missing", headers=as_("lin.zhiming"))
    assert leader.status_code == 200, leader.text
    body = leader.json()
    assert body["day"] == day(0)
    # Not the inactive worker of A1, nor the one with no cell, nor community B's.
    assert [(m["username"], m["role"], m["grid_cells"]) for m in body["items"]] == [
        ("li.na", "grid_worker", [CELL_A2]),
        ("zhou.jie", "grid_assistant", [CELL_A1]),
    ]
    assert body["items"][0]["name"] == "li.na"

    yesterday = await anonymous.get(
        "/v1/patrol-logs/missing", params={"day": day(-1)}, headers=as_("lin.zhiming")
    )
    assert [m["username"] for m in yesterday.json()["items"]] == ["wang.fang", "zhou.jie"]

    office = await anonymous.get("/v1/patrol-logs/missing", headers=as_("hong.yi"))
    assert [m["username"] for m in office.json()["items"]] == ["li.na", "zhang.wei", "zhou.jie"]
    narrowed = await anonymous.get(
        "/v1/patrol-logs/missing", params={"community": COMMUNITY_B}, headers=as_("hong.yi")
    )
    assert [m["username"] for m in narrowed.json()["items"]] == ["zhang.wei"]
    paged = await anonymous.get("/v1/patrol-logs/missing", params={"limit": 2}, headers=as_("hong.yi"))
    rest = await anonymous.get(
        "/v1/patrol-logs/missing",
        params={"limit": 2, "cursor": paged.json()["next_cursor"]},
        headers=as_("hong.yi"),
    )
    assert [m["username"] for m in paged.json()["items"] + rest.json()["items"]] == [
        "li.na",
        "zhang.wei",
        "zhou.jie",
    ]

    ahead = await anonymous.get("/v1/patrol-logs/missing", params={"day": day(1)}, headers=as_("hong.yi"))
    assert ahead.status_code == 422

    # 00:30 in Xiamen (16:30 UTC, the day before there): the check is of the new office day,
    # which nobody has logged yet
    clock(datetime(2026, 12, 5, 16, 30, tzinfo=UTC))
    after_midnight = (await anonymous.get("/v1/patrol-logs/missing", headers=as_("lin.zhiming"))).json()
    assert after_midnight["day"] == day(1)
    assert [m["username"] for m in after_midnight["items"]] == ["li.na", "wang.fang", "zhou.jie"]


async def test_handlers_and_integrations_get_403_and_workers_do_not_run_the_check(
    anonymous: httpx.AsyncClient, as_: As, bearer: Any
) -> None:
    for headers in (as_("ke.jianhua"), bearer("integration", scopes=["reports:create", "reports:read"])):
        assert (await anonymous.get("/v1/patrol-logs", headers=headers)).status_code == 403
        assert (await anonymous.get("/v1/patrol-logs/1", headers=headers)).status_code == 403
        assert (await anonymous.get("/v1/patrol-logs/missing", headers=headers)).status_code == 403
        posted = await anonymous.post(
            "/v1/patrol-logs", json={"grid_cell": CELL_A1, "patrol": "x"}, headers=headers
        )
        assert posted.status_code == 403
    assert (await anonymous.get("/v1/patrol-logs/missing", headers=as_("wang.fang"))).status_code == 403
    for reader in ("lin.zhiming", "hong.yi"):  # readers, not writers
        posted = await anonymous.post(
            "/v1/patrol-logs", json={"grid_cell": CELL_A1, "patrol": "x"}, headers=as_(reader)
        )
        assert posted.status_code == 403, reader
