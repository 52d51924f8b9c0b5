"""The demo seed."""

from __future__ import annotations

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.seed import DEMO_PASSWORD, seed_demo
from shared.db import session_scope
from tests.grid.factories import login

ZHONGSHAN_ROAD = {"lat": 24.4545, "lon": 118.0775}


async def test_seed_demo_seeds_once(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with session_scope(sessions) as session:
        assert await seed_demo(session) is True
    async with session_scope(sessions) as session:
        assert await seed_demo(session) is False

    cells = (await client.get("/v1/territory/cells")).json()
    assert 12 <= len(cells["cells"]) <= 20
    assert cells["version"] == "1"
    communities = (await client.get("/v1/regions", params={"parent": "350203001"})).json()
    assert {"350203001001", "350203001002", "350203001003"} <= {c["code"] for c in communities["items"]}

    located = await client.get("/v1/locate", params=ZHONGSHAN_ROAD)
    assert located.status_code == 200
    assert located.json()["district"]["name"] == "思明区"


async def test_every_seeded_category_names_a_seeded_department(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with session_scope(sessions) as session:
        await seed_demo(session)
    departments = {d["code"] for d in (await client.get("/v1/departments")).json()["items"]}
    categories = (await client.get("/v1/catalog", params={"limit": 100})).json()["items"]
    assert len(categories) >= 18
    assert {c["department_code"] for c in categories} - {None} <= departments
    assert any(c["department_code"] is None for c in categories)
    assert {
        "market-supervision",
        "police",
        "health-inspection",
        "law-enforcement",
        "sanitation",
        "municipal-works",
    } == departments

    zhenhai_stall = (
        await client.get("/v1/routing/resolve", params={"category": "0501", "cell": "35020300100101"})
    ).json()
    assert (zhenhai_stall["source"], zhenhai_stall["department"]["code"]) == (
        "override",
        "market-supervision",
    )


async def test_every_role_has_demo_staff(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with session_scope(sessions) as session:
        await seed_demo(session)
    staff = (await client.get("/v1/staff", params={"limit": 100})).json()["items"]
    roles = {s["role"] for s in staff}
    assert roles == {
        "grid_leader",
        "grid_worker",
        "grid_assistant",
        "dispatcher",
        "handler",
        "supervisor",
        "admin",
    }
    handled = {s["department_code"] for s in staff if s["role"] == "handler"}
    departments = {d["code"] for d in (await client.get("/v1/departments")).json()["items"]}
    assert handled == departments


async def test_every_demo_account_logs_in_with_the_demo_password(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with session_scope(sessions) as session:
        await seed_demo(session)
    staff = (await client.get("/v1/staff", params={"limit": 100})).json()["items"]
    assert all(s["has_password"] for s in staff)
    first_of_role = {s["role"]: s for s in reversed(staff)}
    for person in first_of_role.values():
        response = await login(anonymous, person["username"], DEMO_PASSWORD)
        assert response.status_code == 200, person["username"]
        claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
        assert (claims["sub"], claims["role"]) == (person["username"], person["role"])
        assert claims["regions"] == person["region_codes"]
        assert claims["department"] == person["department_code"]
