"""Staff accounts and their grid assignments."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.staff import repository as staff_repository
from services.grid.staff import service as staff_service
from services.grid.staff.rules import StaffRole
from services.grid.staff.schemas import StaffUpdate
from shared.errors import Conflict
from tests.grid.factories import (
    CELL_A1,
    CELL_A2,
    CELL_B1,
    COMMUNITY_A,
    create_department,
    create_staff,
    import_territory,
)


async def test_create_get_and_list_staff(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    created = await create_staff(client, "wang.fang", phone="13800000001", region_codes=[CELL_A2, CELL_A1])
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["username"], body["role"], body["department_code"], body["active"]) == (
        "wang.fang",
        "grid_worker",
        None,
        True,
    )
    assert body["region_codes"] == [CELL_A1, CELL_A2]
    fetched = await client.get("/v1/staff/wang.fang")
    assert fetched.json() == body
    assert fetched.headers["etag"] == '"1"'

    await create_staff(client, "lin.zhiming", "grid_leader", name="林志明", region_codes=[COMMUNITY_A])
    await create_staff(client, "li.na", region_codes=[CELL_B1])
    await create_staff(client, "hong.yi", "dispatcher")

    in_cell = (await client.get("/v1/staff", params={"region": CELL_A1})).json()
    assert [s["username"] for s in in_cell["items"]] == ["lin.zhiming", "wang.fang"]
    in_community = (await client.get("/v1/staff", params={"region": COMMUNITY_A})).json()
    assert [s["username"] for s in in_community["items"]] == ["lin.zhiming", "wang.fang"]
    workers = (await client.get("/v1/staff", params={"role": "grid_worker", "limit": 1})).json()
    assert [s["username"] for s in workers["items"]] == ["li.na"]
    more = (
        await client.get("/v1/staff", params={"role": "grid_worker", "cursor": workers["next_cursor"]})
    ).json()
    assert [s["username"] for s in more["items"]] == ["wang.fang"]

    assert (await create_staff(client, "wang.fang")).status_code == 409
    assert (await client.get("/v1/staff/nobody")).status_code == 404


async def test_a_username_written_with_capitals_is_taken_in_lower_case(client: httpx.AsyncClient) -> None:
    """Signing in takes a username in any case: creating one as Zhao.Ling was a 422 naming a
    character pattern, not the case."""
    created = await create_staff(client, "Zhao.Ling", "dispatcher")
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "zhao.ling"
    assert (await create_staff(client, "ZHAO.LING", "dispatcher")).status_code == 409  # the same person


async def test_a_handler_needs_a_department_and_only_handlers_have_one(client: httpx.AsyncClient) -> None:
    await create_department(client)
    missing = await create_staff(client, "lu.qiang", "handler")
    assert missing.status_code == 422
    assert "handler needs a department (department_code)" in missing.json()["detail"]
    assert (
        await create_staff(client, "hong.yi", "dispatcher", department_code="law-enforcement")
    ).status_code == 422
    assert (await create_staff(client, "lu.qiang", "handler", department_code="nobody")).status_code == 422
    handler = await create_staff(client, "lu.qiang", "handler", department_code="law-enforcement")
    assert handler.status_code == 201
    listed = (await client.get("/v1/staff", params={"department": "law-enforcement"})).json()
    assert [s["username"] for s in listed["items"]] == ["lu.qiang"]


async def test_roles_outside_staff_are_refused(client: httpx.AsyncClient) -> None:
    assert (await create_staff(client, "svc", "service")).status_code == 422
    assert (await create_staff(client, "bot", "integration")).status_code == 422
    assert (await create_staff(client, "x" * 65)).status_code == 422


async def test_assignments_fit_the_role(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    await create_staff(client, "wang.fang")
    await create_staff(client, "lin.zhiming", "grid_leader")

    assert (
        await client.put("/v1/staff/wang.fang/assignments", json={"region_codes": [COMMUNITY_A]})
    ).status_code == 422
    assert (
        await client.put("/v1/staff/lin.zhiming/assignments", json={"region_codes": [CELL_A1]})
    ).status_code == 422
    assert (
        await client.put("/v1/staff/wang.fang/assignments", json={"region_codes": ["35020300100199"]})
    ).status_code == 422

    twice = {"region_codes": [CELL_B1, CELL_A1, CELL_B1]}  # a set: the answer showed CELL_B1 twice
    response = await client.put("/v1/staff/wang.fang/assignments", json=twice)
    assert response.status_code == 200
    assert response.json()["region_codes"] == [CELL_A1, CELL_B1]
    assert (await client.get("/v1/staff/wang.fang")).json()["region_codes"] == [CELL_A1, CELL_B1]
    cleared = await client.put("/v1/staff/wang.fang/assignments", json={"region_codes": []})
    assert cleared.json()["region_codes"] == []


async def test_update_changes_role_and_department_together(client: httpx.AsyncClient) -> None:
    await create_department(client)
    await create_staff(client, "lu.qiang", "handler", department_code="law-enforcement")
    etag = (await client.get("/v1/staff/lu.qiang")).headers["etag"]

    loose = await client.patch("/v1/staff/lu.qiang", json={"active": "no"}, headers={"If-Match": etag})
    assert loose.status_code == 422  # a boolean is true or false, not a word that might mean one
    for unclearable in ({"name": None}, {"role": None}, {"active": None}):  # each was ignored: a 200
        refused = await client.patch("/v1/staff/lu.qiang", json=unclearable, headers={"If-Match": etag})
        assert refused.status_code == 422, unclearable
    response = await client.patch(
        "/v1/staff/lu.qiang", json={"role": "dispatcher", "active": False}, headers={"If-Match": etag}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["department_code"], response.json()["active"]) == (
        "dispatcher",
        None,
        False,
    )
    back = await client.patch(
        "/v1/staff/lu.qiang", json={"role": "handler"}, headers={"If-Match": response.headers["etag"]}
    )
    assert back.status_code == 422


async def test_the_last_active_admin_stays_one(client: httpx.AsyncClient) -> None:
    """An admin could deactivate or demote the last admin: then only the server's CLI could
    manage staff, keys and the territory again. An admin without a password does not count."""
    await create_staff(client, "pan.jun", "admin")
    await create_staff(client, "gao.ming", "admin")
    await create_staff(client, "xu.li", "admin")  # no password: cannot sign in, does not count
    for admin in ("pan.jun", "gao.ming"):
        await client.put(f"/v1/staff/{admin}/password", json={"password": "a long passphrase"})

    async def change(username: str, body: dict[str, object]) -> httpx.Response:
        etag = (await client.get(f"/v1/staff/{username}")).headers["etag"]
        return await client.patch(f"/v1/staff/{username}", json=body, headers={"If-Match": etag})

    assert (await change("gao.ming", {"active": False})).status_code == 200  # pan.jun remains
    demotions: list[dict[str, object]] = [{"active": False}, {"role": "dispatcher"}, {"role": "supervisor"}]
    for body in demotions:
        refused = await change("pan.jun", body)
        assert refused.status_code == 409, body
        assert refused.json()["detail"] == (
            "pan.jun is the last active admin who can sign in; make another admin first"
        )
    assert (await change("pan.jun", {"name": "潘军"})).status_code == 200  # other changes go through
    assert (await change("gao.ming", {"active": True})).status_code == 200
    assert (await change("pan.jun", {"role": "dispatcher"})).status_code == 200
    assert (await change("xu.li", {"active": False})).status_code == 200  # could not sign in anyway


async def test_two_admins_removing_each_other_at_once_leave_one(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    """The admins are locked until a change commits: the second waits for the first and then
    finds it would remove the last one (a 409, not two 200s and no admin)."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: two changes never overlap")
    for admin in ("pan.jun", "gao.ming"):
        await create_staff(client, admin, "admin")
        await client.put(f"/v1/staff/{admin}/password", json={"password": "a long passphrase"})
    demote = StaffUpdate(role=StaffRole.dispatcher)
    etags = {
        admin: (await client.get(f"/v1/staff/{admin}")).headers["etag"] for admin in ("pan.jun", "gao.ming")
    }
    async with sessions() as first, sessions() as second:
        await staff_service.update_staff(
            first, username="pan.jun", data=demote, if_match=etags["pan.jun"], actor_id="gao.ming"
        )
        racing = asyncio.create_task(
            staff_service.update_staff(
                second, username="gao.ming", data=demote, if_match=etags["gao.ming"], actor_id="pan.jun"
            )
        )
        await asyncio.sleep(0.2)
        assert not racing.done()  # waiting for the admins' locks
        await first.commit()
        with pytest.raises(Conflict):
            await racing
    async with sessions() as session:
        admins = await staff_repository.active_admins(session)
        assert [admin.username for admin in admins] == ["gao.ming"]
