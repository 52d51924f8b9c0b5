"""A department must not lose its last active handler (one who can sign in) unnoticed: cases
routed to it would wait unseen until they went overdue. The change goes through (an office
mid-reorganisation) and its answer, and grid's log, say so."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.staff import service as staff_service
from services.grid.staff.schemas import StaffUpdate
from tests.grid.factories import create_department, create_handler

UNSTAFFED = (
    "department law-enforcement (执法中队) now has no active handler who can sign in: "
    "cases routed to it will wait unseen until one is assigned or given a password"
)


async def staffed(client: httpx.AsyncClient) -> None:
    """Two active handlers in law-enforcement, one in police."""
    await create_department(client)
    await create_department(client, "police", name_zh="派出所", name_en="Police station")
    for username in ("lu.qiang", "ma.li"):
        await create_handler(client, username, "law-enforcement")
    await create_handler(client, "gao.peng", "police")


async def change(client: httpx.AsyncClient, username: str, body: dict[str, Any]) -> httpx.Response:
    etag = (await client.get(f"/v1/staff/{username}")).headers["etag"]
    response = await client.patch(f"/v1/staff/{username}", json=body, headers={"If-Match": etag})
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize(
    "body",
    [{"active": False}, {"role": "dispatcher"}, {"department_code": "police"}],
    ids=["deactivated", "another-role", "moved"],
)
async def test_the_last_active_handler_leaving_a_department_is_warned_about(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, body: dict[str, Any]
) -> None:
    await staffed(client)
    caplog.set_level(logging.WARNING, logger="wangge.grid.staff")

    first = await change(client, "lu.qiang", body)
    assert first.json()["warnings"] == []  # ma.li still handles law-enforcement's cases
    assert not caplog.messages

    last = await change(client, "ma.li", body)  # goes through all the same
    assert last.json()["warnings"] == [UNSTAFFED]
    assert {key: last.json()[key] for key in body} == body
    assert caplog.messages == [f"staff ma.li changed by pan.jun: {UNSTAFFED}"]
    assert caplog.records[0].levelno == logging.WARNING


async def test_changes_that_take_no_handler_away_warn_of_nothing(client: httpx.AsyncClient) -> None:
    await staffed(client)
    await change(client, "lu.qiang", {"active": False})
    assert (await change(client, "ma.li", {"name": "马丽", "phone": "13800000009"})).json()["warnings"] == []
    assert (await change(client, "ma.li", {"department_code": "law-enforcement"})).json()["warnings"] == []
    # lu.qiang was no longer seeing law-enforcement's cases: moving or demoting him takes nobody away
    assert (await change(client, "lu.qiang", {"department_code": "police"})).json()["warnings"] == []
    assert (await change(client, "lu.qiang", {"role": "supervisor"})).json()["warnings"] == []
    # police has a handler again only when he is active: gao.peng is not its last one then
    assert (await change(client, "gao.peng", {"active": False})).json()["warnings"] == [
        UNSTAFFED.replace("law-enforcement (执法中队)", "police (派出所)")
    ]
    assert (await change(client, "gao.peng", {"active": True})).json()["warnings"] == []
    assert (await change(client, "gao.peng", {"active": False})).json()["warnings"] != []
    assert (await change(client, "gao.peng", {"active": False})).json()["warnings"] == []  # already so


async def test_a_handler_who_cannot_sign_in_is_no_handler_to_keep(client: httpx.AsyncClient) -> None:
    """ma.li has no password yet: she sees no case, so the last handler who can sign in leaving
    is warned about all the same, and changes to her take nobody away."""
    await create_department(client)
    await create_handler(client, "lu.qiang", "law-enforcement")
    await create_handler(client, "ma.li", "law-enforcement", password=None)

    assert (await change(client, "lu.qiang", {"active": False})).json()["warnings"] == [UNSTAFFED]
    assert (await change(client, "ma.li", {"active": False})).json()["warnings"] == []
    assert (await change(client, "ma.li", {"role": "dispatcher"})).json()["warnings"] == []


async def test_two_last_handlers_deactivated_at_once_the_second_is_warned(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    """The department is locked until a change taking a handler from it commits: the second
    change waits, then counts without the first one's handler. Unlocked, on PostgreSQL's READ
    COMMITTED each counted the other handler as staying and neither answer warned."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: two changes never overlap")
    await create_department(client)
    etags = {}
    for username in ("lu.qiang", "ma.li"):
        etags[username] = (await create_handler(client, username, "law-enforcement")).headers["etag"]
    deactivate = StaffUpdate(active=False)
    async with sessions() as first, sessions() as second:
        one, _ = await staff_service.update_staff(
            first, username="lu.qiang", data=deactivate, if_match=etags["lu.qiang"], actor_id="pan.jun"
        )
        racing = asyncio.create_task(
            staff_service.update_staff(
                second, username="ma.li", data=deactivate, if_match=etags["ma.li"], actor_id="gao.ming"
            )
        )
        await asyncio.sleep(0.2)
        assert not racing.done()  # waiting for the department's lock
        await first.commit()
        other, _ = await racing
        await second.commit()
    assert one.warnings == []
    assert other.warnings == [UNSTAFFED]


async def test_two_last_handlers_swapping_departments_at_once_are_both_warned(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    """Each change writes a staff row naming the other's department (a key share lock on it)
    and then locks its own: a plain FOR UPDATE there deadlocked the two (PostgreSQL)."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: two changes never overlap")
    await create_department(client)
    await create_department(client, "police", name_zh="派出所", name_en="Police station")
    lu = await create_handler(client, "lu.qiang", "law-enforcement")
    gao = await create_handler(client, "gao.peng", "police")
    async with sessions() as first, sessions() as second:
        one, _ = await staff_service.update_staff(
            first,
            username="lu.qiang",
            data=StaffUpdate(department_code="police"),
            if_match=lu.headers["etag"],
            actor_id="pan.jun",
        )
        other, _ = await asyncio.wait_for(
            staff_service.update_staff(
                second,
                username="gao.peng",
                data=StaffUpdate(department_code="law-enforcement"),
                if_match=gao.headers["etag"],
                actor_id="pan.jun",
            ),
            timeout=5,
        )
        await first.commit()
        await second.commit()
    # Each counted before the other committed: both departments have a handler again once
    # both commit, and each answer said what its own change left behind.
    assert one.warnings == [UNSTAFFED]
    assert other.warnings == [UNSTAFFED.replace("law-enforcement (执法中队)", "police (派出所)")]


async def test_the_openapi_documents_the_warnings(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    answer = schema["paths"]["/v1/staff/{username}"]["patch"]["responses"]["200"]["content"]
    ref = answer["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    warnings = schema["components"]["schemas"][ref]["properties"]["warnings"]
    assert "no active handler" in warnings["description"]
    assert warnings["items"] == {"type": "string"}
