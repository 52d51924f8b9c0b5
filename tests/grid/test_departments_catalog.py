"""Departments and the responsibility catalog."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.grid.departments import service as departments
from services.grid.departments.schemas import DepartmentCreate, DepartmentUpdate
from shared.actors import Role
from shared.errors import Conflict, PreconditionFailed
from tests.grid.conftest import Bearer
from tests.grid.factories import create_category, create_department, create_handler, create_staff


async def test_department_create_get_update_with_if_match(client: httpx.AsyncClient) -> None:
    created = await create_department(
        client, "police", name_zh="派出所", name_en="Police station", phone="110"
    )
    body = {"code": "police", "name_zh": "派出所", "name_en": "Police station", "phone": "110"}
    assert created == {**body, "retired_at": None, "retired_by": None, "active_handlers": 0}
    response = await client.get("/v1/departments/police")
    etag = response.headers["etag"]

    assert (await client.patch("/v1/departments/police", json={"phone": "0592-1"})).status_code == 428
    updated = await client.patch(
        "/v1/departments/police", json={"phone": "0592-1"}, headers={"If-Match": etag}
    )
    assert updated.status_code == 200
    assert updated.json()["phone"] == "0592-1"
    stale = await client.patch("/v1/departments/police", json={"phone": "0592-2"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    # null clears what may be empty (the phone) and is refused for the rest: it was ignored, a 200.
    current = {"If-Match": updated.headers["etag"]}
    unnamed = await client.patch("/v1/departments/police", json={"name_zh": None}, headers=current)
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"].endswith("name_zh cannot be cleared; leave it out to keep it")
    for blank in ("", "   "):  # stored as an empty phone: null is what clears it
        assert (
            await client.patch("/v1/departments/police", json={"phone": blank}, headers=current)
        ).status_code == 422
    cleared = await client.patch("/v1/departments/police", json={"phone": None}, headers=current)
    assert (cleared.status_code, cleared.json()["phone"]) == (200, None)

    assert (await client.post("/v1/departments", json=body)).status_code == 409
    assert (await client.get("/v1/departments/nobody")).status_code == 404
    page = (await client.get("/v1/departments")).json()
    assert [d["code"] for d in page["items"]] == ["police"]


async def test_departments_show_their_active_handlers(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, bearer: Bearer
) -> None:
    """An admin spots a department nobody watches: its cases would wait unseen until overdue.
    Only active handlers count; an integration, which reads no staff, is told no number."""
    for code in ("law-enforcement", "police", "sanitation"):
        await create_department(client, code)
    for username in ("lu.qiang", "ma.li"):
        await create_handler(client, username, "law-enforcement")
    await create_handler(client, "gao.peng", "police", active=False)
    await create_staff(client, "hong.yi", "dispatcher")

    def counts(page: dict[str, Any]) -> dict[str, int | None]:
        return {d["code"]: d["active_handlers"] for d in page["items"]}

    listed = (await client.get("/v1/departments")).json()
    assert counts(listed) == {"law-enforcement": 2, "police": 0, "sanitation": 0}
    first = (await client.get("/v1/departments", params={"limit": 2})).json()
    rest = (await client.get("/v1/departments", params={"cursor": first["next_cursor"]})).json()
    assert (counts(first), counts(rest)) == ({"law-enforcement": 2, "police": 0}, {"sanitation": 0})
    one = await client.get("/v1/departments/police", headers=bearer(Role.dispatcher))
    assert one.json()["active_handlers"] == 0
    etag = (await client.get("/v1/staff/gao.peng")).headers["etag"]
    await client.patch("/v1/staff/gao.peng", json={"active": True}, headers={"If-Match": etag})
    assert (await client.get("/v1/departments/police")).json()["active_handlers"] == 1
    changed = await client.patch(
        "/v1/departments/police", json={"phone": "110"}, headers={"If-Match": one.headers["etag"]}
    )
    assert changed.json()["active_handlers"] == 1

    bot = bearer(Role.integration)
    assert set(counts((await anonymous.get("/v1/departments", headers=bot)).json()).values()) == {None}
    assert (await anonymous.get("/v1/departments/police", headers=bot)).json()["active_handlers"] is None


async def test_a_handler_counts_once_they_can_sign_in(client: httpx.AsyncClient) -> None:
    """A handler made without a password cannot sign in, so nobody sees the department's cases
    yet: it shows 0 (as the last admin is one who can sign in) until an admin sets one."""
    await create_department(client, "police", name_zh="派出所", name_en="Police station")
    await create_handler(client, "gao.peng", "police", password=None)
    police = await client.get("/v1/departments/police")
    assert (police.json()["active_handlers"], (await client.get("/v1/departments")).json()["items"]) == (
        0,
        [police.json()],
    )

    set_password = await client.put("/v1/staff/gao.peng/password", json={"password": "wangge-police"})
    assert set_password.status_code == 204
    assert (await client.get("/v1/departments/police")).json()["active_handlers"] == 1
    etag = (await client.get("/v1/staff/gao.peng")).headers["etag"]
    await client.patch("/v1/staff/gao.peng", json={"active": False}, headers={"If-Match": etag})
    assert (await client.get("/v1/departments/police")).json()["active_handlers"] == 0


async def test_the_departments_list_counts_handlers_in_one_query(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """One query for the page and one counting every department's handlers, however many."""
    for n in range(5):
        await create_department(client, f"office-{n}")
        await create_handler(client, f"handler.{n}", f"office-{n}")
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    async with sessions() as session:
        assert isinstance(session.bind, AsyncEngine)
        engine = session.bind.sync_engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            page = await departments.list_departments(session, limit=100, cursor=None)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert [d.active_handlers for d in page.items] == [1] * 5
    assert len(statements) == 2, statements


async def test_mutations_need_a_token(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post(
        "/v1/departments",
        json={"code": "police", "name_zh": "派出所", "name_en": "Police"},
        headers={"X-Wangge-Actor": "pan.jun", "X-Wangge-Role": "admin"},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_unknown_body_fields_are_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/departments", json={"code": "police", "name_zh": "派出所", "name_en": "Police", "boss": "x"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "boss"]
    await create_department(client)
    read = await create_category(client)
    created = {key: value for key, value in read.items() if not key.startswith("retired_")}
    category = await client.post("/v1/catalog", json={**created, "code": "0502", "x": 1})
    assert category.status_code == 422
    assert category.json()["errors"][0]["loc"] == ["body", "x"]
    override = await client.post(
        "/v1/routing/overrides",
        json={"region_code": "350203", "category_code": "0501", "department_code": "police", "note": "x"},
    )
    assert override.status_code == 422


async def test_catalog_create_filter_and_update(client: httpx.AsyncClient) -> None:
    await create_department(client)
    await create_department(client, "sanitation", name_zh="环卫站", name_en="Sanitation")
    await create_category(client)
    await create_category(
        client, "0101", "sanitation", name_zh="暴露垃圾", class_zh="市容环境", class_en="City appearance"
    )
    await create_category(client, "9901", None, name_zh="其他", class_zh="其他", class_en="Other")

    by_class = (await client.get("/v1/catalog", params={"class": "市容环境"})).json()
    assert [c["code"] for c in by_class["items"]] == ["0101"]
    by_department = (await client.get("/v1/catalog", params={"department": "law-enforcement"})).json()
    assert [c["code"] for c in by_department["items"]] == ["0501"]

    response = await client.get("/v1/catalog/9901")
    assert response.json()["department_code"] is None
    updated = await client.patch(
        "/v1/catalog/0501",
        json={"department_code": None, "time_limit_hours": 4},
        headers={"If-Match": (await client.get("/v1/catalog/0501")).headers["etag"]},
    )
    assert (updated.json()["department_code"], updated.json()["time_limit_hours"]) == (None, 4)
    unlimited = await client.patch(
        "/v1/catalog/0501", json={"time_limit_hours": None}, headers={"If-Match": updated.headers["etag"]}
    )
    assert unlimited.status_code == 422


async def test_catalog_refuses_unknown_departments_and_bad_values(client: httpx.AsyncClient) -> None:
    body = {
        "code": "0501",
        "name_zh": "占道经营",
        "name_en": "Stall",
        "class_zh": "街面秩序",
        "class_en": "Street order",
        "urgency": "urgent",
        "time_limit_hours": 2,
        "department_code": "nobody",
    }
    assert (await client.post("/v1/catalog", json=body)).status_code == 422
    assert (
        await client.post("/v1/catalog", json={**body, "department_code": None, "urgency": "asap"})
    ).status_code == 422
    assert (
        await client.post("/v1/catalog", json={**body, "department_code": None, "time_limit_hours": 0})
    ).status_code == 422
    assert (
        await client.post("/v1/catalog", json={**body, "department_code": None, "time_limit_hours": "24"})
    ).status_code == 422
    for code in ("٠٥٠٩", "０５０９"):  # Arabic-Indic and full-width digits: \d took them, [0-9] does not
        odd = await client.post("/v1/catalog", json={**body, "code": code, "department_code": None})
        assert odd.status_code == 422, odd.text
    assert (await client.get("/v1/catalog/0501")).status_code == 404


async def test_two_changes_under_one_etag_the_second_is_412(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    """Both changes checked If-Match against the version they had read, the second before the
    first committed, and both went through: the second wrote over the first under the same
    new ETag. The change now locks the row before it checks."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: two changes never overlap")
    async with sessions() as session:
        await departments.create_department(
            session, data=DepartmentCreate(code="police", name_zh="派出所", name_en="Police"), actor_id="a"
        )
        await session.commit()
    async with sessions() as first, sessions() as second:
        await departments.update_department(
            first, code="police", data=DepartmentUpdate(phone="111"), if_match='"1"', actor_id="a"
        )
        racing = asyncio.create_task(
            departments.update_department(
                second, code="police", data=DepartmentUpdate(name_en="Other"), if_match='"1"', actor_id="b"
            )
        )
        await asyncio.sleep(0.2)  # the second has read (or is waiting to read) the department
        assert not racing.done()
        await first.commit()
        with pytest.raises(PreconditionFailed):
            await racing
    async with sessions() as session:
        stored = await departments.get_department(session, code="police")
        assert (stored.phone, stored.name_en, stored.version) == ("111", "Police", 2)


async def test_two_creates_of_one_code_at_once_are_a_201_and_a_409(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    """Both passed the check that the code is free; the second's insert was a 500."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: two creates never overlap")
    data = DepartmentCreate(code="police", name_zh="派出所", name_en="Police")
    async with sessions() as first, sessions() as second:
        await departments.create_department(first, data=data, actor_id="a")  # not committed yet
        racing = asyncio.create_task(departments.create_department(second, data=data, actor_id="b"))
        await asyncio.sleep(0.2)
        assert not racing.done()  # its insert waits for the first's key
        await first.commit()
        with pytest.raises(Conflict, match="department 'police' exists already"):
            await racing
