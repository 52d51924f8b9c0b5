"""``GET /v1/cases``: console filters and cursor pagination."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from shared.db import utcnow
from tests.dispatch import factories
from tests.dispatch.conftest import DISPATCHER, HANDLER, Dispatch
from tests.dispatch.fakes import MANHOLE, OTHER, OTHER_CELL
from tests.support.cursors import forged

FAR = 0.002


async def ids(dispatch: Dispatch, **params: Any) -> list[int]:
    response = await dispatch.client.get("/v1/cases", params={"limit": 100, **params}, headers=DISPATCHER)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def test_each_filter_returns_the_right_cases(dispatch: Dispatch) -> None:
    stall = (await dispatch.new_case(address="中山路 88 号"))["id"]
    manhole = (await dispatch.new_case(category=MANHOLE, lat=factories.LAT + FAR, address="镇海路 3 号"))[
        "id"
    ]
    elsewhere = (
        await dispatch.new_case(
            category=None,
            grid_cell=OTHER_CELL,
            community="350203001002",
            lat=factories.LAT + 2 * FAR,
            description="井盖松动",
            reporter_id="chen.li",
        )
    )["id"]
    await dispatch.ok(stall, "accept", actor=HANDLER)
    await dispatch.set_case(manhole, deadline_at=utcnow() - timedelta(hours=1))

    assert await ids(dispatch) == [elsewhere, manhole, stall]
    assert await ids(dispatch, status="triage") == [elsewhere]
    assert await ids(dispatch, status=["triage", "in_progress"]) == [elsewhere, stall]
    assert await ids(dispatch, department="works") == [manhole]
    assert await ids(dispatch, grid_cell=OTHER_CELL) == [elsewhere]
    assert await ids(dispatch, community="350203001002") == [elsewhere]
    assert await ids(dispatch, category=MANHOLE) == [manhole]
    assert await ids(dispatch, overdue="true") == [manhole]
    assert await ids(dispatch, overdue="false") == [elsewhere, stall]
    assert await ids(dispatch, q="镇海路") == [manhole]
    assert await ids(dispatch, q="井盖松") == [elsewhere]
    case_number = (await dispatch.read(stall))["case_number"]
    assert await ids(dispatch, q=case_number) == [stall]
    assert await ids(dispatch, q="100%") == []
    assert await ids(dispatch, q="  镇海路 ") == [manhole]  # the spaces around are not searched for
    assert await ids(dispatch, q="   ") == [elsewhere, manhole, stall]  # nothing to search: no filter
    # Each word, anywhere in the number, address or description: "88 摆摊" looked for the
    # two side by side, in that order, and found nothing. (elsewhere: 中山路 88 号, 井盖松动)
    assert await ids(dispatch, q="88 摆摊") == [stall]
    assert await ids(dispatch, q="松动 中山路") == [elsewhere]
    assert await ids(dispatch, q=f"摆摊 {case_number[-4:]}") == [stall]  # a word of the number
    assert await ids(dispatch, q="镇海路 井盖") == []  # every word, not any
    assert await ids(dispatch, reporter="chen.li") == [elsewhere]

    listed = (await dispatch.client.get("/v1/cases", params={"overdue": "true"}, headers=DISPATCHER)).json()
    assert listed["items"][0]["overdue"] is True


async def test_a_case_resolved_in_time_is_not_overdue_while_it_waits_for_the_check(
    dispatch: Dispatch,
) -> None:
    """The deadline is the department's handling time: once resolved, waiting for the grid
    worker's check, the case is not overdue (it was, in the list and on its page)."""
    resolved = (await dispatch.new_case())["id"]
    handling = (await dispatch.new_case(lat=factories.LAT + FAR))["id"]
    for case in (resolved, handling):
        await dispatch.ok(case, "accept", actor=HANDLER)
    await dispatch.ok(resolved, "resolve", {"note": "stall moved off the road"}, actor=HANDLER)
    for case in (resolved, handling):
        await dispatch.set_case(case, deadline_at=utcnow() - timedelta(minutes=1))

    assert await ids(dispatch, overdue="true") == [handling]
    assert await ids(dispatch, overdue="false") == [resolved]
    assert (await dispatch.read(resolved))["overdue"] is False
    assert (await dispatch.read(handling))["overdue"] is True


@pytest.mark.parametrize("name", ["q", "department", "grid_cell", "community", "category", "reporter"])
@pytest.mark.parametrize("text", ["\x00", "a\x00b"])
async def test_text_no_database_can_compare_is_422(dispatch: Dispatch, name: str, text: str) -> None:
    """``q=%00`` listed every case on SQLite (its LIKE pattern cut at the NUL)."""
    await dispatch.new_case()
    query = f"{name}={quote(text)}"
    response = await dispatch.client.get(f"/v1/cases?{query}", headers=DISPATCHER)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", name]


@pytest.mark.parametrize("department", ["环卫站", "Sanitation", "market supervision"])
async def test_a_department_that_is_no_code_is_422(dispatch: Dispatch, department: str) -> None:
    """A dispatcher who filtered by a department's name (or its English one) was answered an empty
    list, read as 'no cases'; the figures' department=, with the same pattern, said so."""
    await dispatch.new_case()
    response = await dispatch.client.get("/v1/cases", params={"department": department}, headers=DISPATCHER)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", "department"]
    # said in words, not as the regular expression (the walkthrough read "String should match
    # pattern '^[a-z][a-z0-9-]{1,31}$'")
    assert response.json()["detail"] == (
        "query.department: should be a department's code (2 to 32 lower-case letters, digits "
        "and '-', as sanitation): not its name"
    )


async def test_an_unknown_status_is_422(dispatch: Dispatch) -> None:
    response = await dispatch.client.get("/v1/cases", params={"status": "lost"}, headers=DISPATCHER)
    assert response.status_code == 422


async def test_pages_walk_every_case_once_newest_first(dispatch: Dispatch) -> None:
    await dispatch.deliver(*(factories.report(lat=factories.LAT + i * FAR) for i in range(7)))
    await dispatch.deliver(*(factories.report(lat=factories.LAT - (i + 1) * FAR) for i in range(4)))
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await dispatch.client.get("/v1/cases", params=params, headers=DISPATCHER)).json()
        seen.extend(c["id"] for c in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 4
    assert len(seen) == len(set(seen)) == 11
    assert seen == sorted(seen, reverse=True)


async def test_page_size_is_bounded_and_cursors_are_checked(dispatch: Dispatch) -> None:
    too_big = await dispatch.client.get("/v1/cases", params={"limit": 101}, headers=DISPATCHER)
    forged = await dispatch.client.get("/v1/cases", params={"cursor": "bm9wZQ"}, headers=DISPATCHER)
    assert (too_big.status_code, forged.status_code) == (422, 422)


@pytest.mark.parametrize(
    "position",
    [
        {"created_at": "2026-01-01T00:00:00+00:00", "id": 2**63},  # beyond BIGINT: was a 500 on SQLite
        {"created_at": "2026-01-01T00:00:00+00:00", "id": 1e400},  # Infinity
        {"created_at": "2026-01-01T00:00:00+00:00", "id": "12"},
        {"created_at": "2026-01-01T00:00:00", "id": 12},  # naive: was a 500 in the UTC column
        {"created_at": "0001-01-01T00:00:00+14:00", "id": 12},  # no UTC time at all
        {"created_at": None, "id": 12},
        {"id": 12},
    ],
)
async def test_a_forged_cursor_is_422_not_a_500(dispatch: Dispatch, position: dict[str, Any]) -> None:
    response = await dispatch.client.get("/v1/cases", params={"cursor": forged(position)}, headers=DISPATCHER)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "cursor is not one this service issued"


async def test_the_due_list_holds_the_cases_being_handled_soonest_deadline_first(dispatch: Dispatch) -> None:
    """``sort=due``: what a department must do next, overdue first; paged by its own cursor."""
    now = utcnow()
    deadlines = {"late": -2, "soon": 1, "later": 5, "same_later": 5}
    ids_by_name: dict[str, int] = {}
    for offset, (name, hours) in enumerate(deadlines.items()):
        case = await dispatch.new_case(lat=factories.LAT + 0.01 * offset)
        await dispatch.set_case(case["id"], deadline_at=now + timedelta(hours=hours))
        ids_by_name[name] = case["id"]
    resolved = await dispatch.new_case(lat=factories.LAT + 0.1)
    await dispatch.ok(resolved["id"], "accept", actor=HANDLER)
    await dispatch.ok(resolved["id"], "resolve", {"note": "done"}, actor=HANDLER)
    await dispatch.set_case(resolved["id"], deadline_at=now - timedelta(hours=9))
    waiting = await dispatch.new_case(lat=factories.LAT + 0.2, category=OTHER)
    assert waiting["status"] == "triage"

    expected = [ids_by_name[name] for name in ("late", "soon", "later", "same_later")]
    assert await ids(dispatch, sort="due") == expected
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"sort": "due", "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await dispatch.client.get("/v1/cases", params=params, headers=DISPATCHER)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert await ids(dispatch, sort="due", department="works") == []

    newest = (await dispatch.client.get("/v1/cases", params={"limit": 1}, headers=DISPATCHER)).json()
    mixed = await dispatch.client.get(
        "/v1/cases", params={"sort": "due", "cursor": newest["next_cursor"]}, headers=DISPATCHER
    )
    assert mixed.status_code == 422
    # it said "not one this service issued", which it was
    assert mixed.json()["detail"] == (
        "cursor is one of the list with sort=newest: pass it with that sort, or start again without it"
    )
    due = (
        await dispatch.client.get("/v1/cases", params={"sort": "due", "limit": 1}, headers=DISPATCHER)
    ).json()
    back = await dispatch.client.get("/v1/cases", params={"cursor": due["next_cursor"]}, headers=DISPATCHER)
    assert (back.status_code, back.json()["detail"]) == (
        422,
        "cursor is one of the list with sort=due: pass it with that sort, or start again without it",
    )
    wrong = await dispatch.client.get("/v1/cases", params={"sort": "deadline"}, headers=DISPATCHER)
    assert wrong.status_code == 422
