"""Retiring catalog categories and departments (a revision of the 权责清单): kept, since cases
name them, but no longer listed, routed, dispatched to or given anything new."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.catalog import service as catalog
from services.grid.catalog.schemas import CategoryCreate, CategoryUpdate
from services.grid.departments import service as departments
from services.grid.departments.schemas import DepartmentCreate, DepartmentUpdate
from services.grid.models import Department
from shared.db import session_scope, utcnow
from shared.errors import Unprocessable
from tests.grid.factories import (
    CELL_A1,
    CELL_B1,
    COMMUNITY_A,
    create_category,
    create_department,
    create_staff,
    import_territory,
)


async def patch(client: httpx.AsyncClient, path: str, **changes: Any) -> httpx.Response:
    """A PATCH with the `If-Match` of what is there now."""
    etag = (await client.get(path)).headers["etag"]
    return await client.patch(path, json=changes, headers={"If-Match": etag})


async def codes(client: httpx.AsyncClient, path: str, **params: str) -> list[str]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [item["code"] for item in response.json()["items"]]


async def override(client: httpx.AsyncClient, region: str, category: str, department: str) -> httpx.Response:
    body = {"region_code": region, "category_code": category, "department_code": department}
    return await client.post("/v1/routing/overrides", json=body)


async def test_a_retired_category_leaves_the_listing_and_is_read_by_code(client: httpx.AsyncClient) -> None:
    await create_department(client)
    await create_category(client, "0501")
    await create_category(client, "0502", name_zh="流动摊贩")

    path = "/v1/catalog/0501"
    assert (await client.patch(path, json={"retired": True})).status_code == 428
    assert (await patch(client, path, retired=None)).status_code == 422  # not a way to bring it back
    retired = await patch(client, path, retired=True)

    assert retired.status_code == 200, retired.text
    assert retired.json()["retired_at"] is not None and retired.json()["retired_by"] == "pan.jun"
    # The app's category picker reads the listing: it offers 0501 no more.
    assert await codes(client, "/v1/catalog") == ["0502"]
    assert await codes(client, "/v1/catalog", department="law-enforcement") == ["0502"]
    assert await codes(client, "/v1/catalog", retired="true") == ["0501"]
    # Cases carry its code: it is still read by it.
    read = await client.get(path)
    assert (read.status_code, read.json()["name_zh"]) == (200, "占道经营")
    assert read.json()["retired_at"] == retired.json()["retired_at"]

    back = await patch(client, path, retired=False)
    assert (back.status_code, back.json()["retired_at"], back.json()["retired_by"]) == (200, None, None)
    assert await codes(client, "/v1/catalog") == ["0501", "0502"]
    assert await codes(client, "/v1/catalog", retired="true") == []


async def test_a_report_of_a_retired_category_goes_to_triage(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    await create_department(client)
    await create_department(client, "market-supervision", name_zh="工商所", name_en="Market supervision")
    await create_category(client, "0501")
    assert (await override(client, COMMUNITY_A, "0501", "market-supervision")).status_code == 201

    assert (await patch(client, "/v1/catalog/0501", retired=True)).status_code == 200

    # As a code the catalog does not hold: no route, so dispatch puts the report in triage.
    single = await client.get("/v1/routing/resolve", params={"category": "0501", "cell": CELL_A1})
    assert single.status_code == 404
    assert single.json()["detail"] == "category '0501' is retired from the catalog"
    batch = await client.post(
        "/v1/routing/resolutions", json={"questions": [{"category": "0501", "cell": CELL_B1}]}
    )
    [answer] = batch.json()["answers"]
    assert (answer["resolution"], answer["unknown"]) == (None, "category '0501' is retired from the catalog")
    refused = await override(client, COMMUNITY_A, "0501", "law-enforcement")
    assert refused.status_code == 422
    assert refused.json()["detail"] == "category '0501' is retired"

    # Brought back, it routes as before, its override too.
    assert (await patch(client, "/v1/catalog/0501", retired=False)).status_code == 200
    routed = await client.get("/v1/routing/resolve", params={"category": "0501", "cell": CELL_A1})
    assert (routed.json()["source"], routed.json()["department"]["code"]) == (
        "override",
        "market-supervision",
    )


async def test_a_department_is_retired_once_nothing_sends_cases_to_it(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    await create_department(client)
    await create_department(client, "police", name_zh="派出所", name_en="Police station")
    await create_category(client, "0501")
    await create_category(client, "0502", name_zh="流动摊贩")
    await create_category(client, "0503", "police", name_zh="扒窃")
    assert (await patch(client, "/v1/catalog/0502", retired=True)).status_code == 200
    made = await override(client, COMMUNITY_A, "0503", "law-enforcement")
    override_id = made.json()["id"]
    path = "/v1/departments/law-enforcement"

    refused = await patch(client, path, retired=True)

    # The admin is told what to reassign first; a retired category (0502) is no obstacle.
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["categories"], problem["overrides"]) == (["0501"], [override_id])
    assert "0501 占道经营" in problem["detail"] and f"routing overrides {override_id}" in problem["detail"]
    assert (await client.get(path)).json()["retired_at"] is None

    assert (await patch(client, "/v1/catalog/0501", department_code="police")).status_code == 200
    assert (await client.delete(f"/v1/routing/overrides/{override_id}")).status_code == 204
    retired = await patch(client, path, retired=True)

    assert retired.status_code == 200, retired.text
    assert retired.json()["retired_by"] == "pan.jun"
    assert await codes(client, "/v1/departments") == ["police"]
    assert await codes(client, "/v1/departments", retired="true") == ["law-enforcement"]
    assert (await client.get(path)).json()["name_zh"] == "执法中队"  # cases still name it
    # Nothing new is sent to it: a category, a change of one, an override, a category brought back.
    created = await client.post(
        "/v1/catalog",
        json={
            "code": "0504",
            "name_zh": "乱摆卖",
            "name_en": "Unlicensed trading",
            "class_zh": "街面秩序",
            "class_en": "Street order",
            "time_limit_hours": 4,
            "department_code": "law-enforcement",
        },
    )
    assert (created.status_code, created.json()["detail"]) == (422, "department 'law-enforcement' is retired")
    assert (await patch(client, "/v1/catalog/0501", department_code="law-enforcement")).status_code == 422
    assert (await override(client, COMMUNITY_A, "0501", "law-enforcement")).status_code == 422
    back = await patch(client, "/v1/catalog/0502", retired=False)  # it still names law-enforcement
    assert (back.status_code, back.json()["detail"]) == (422, "department 'law-enforcement' is retired")
    moved = await patch(client, "/v1/catalog/0502", retired=False, department_code="police")
    assert (moved.status_code, moved.json()["department_code"], moved.json()["retired_at"]) == (
        200,
        "police",
        None,
    )

    assert (await patch(client, path, retired=False)).status_code == 200
    assert await codes(client, "/v1/departments") == ["law-enforcement", "police"]


async def test_no_one_is_newly_made_a_handler_of_a_retired_department(client: httpx.AsyncClient) -> None:
    await create_department(client)
    await create_department(client, "police", name_zh="派出所", name_en="Police station")
    assert (
        await create_staff(client, "gao.peng", "handler", department_code="law-enforcement")
    ).status_code == 201
    assert (await create_staff(client, "ke.jianhua", "handler", department_code="police")).status_code == 201
    assert (await patch(client, "/v1/departments/law-enforcement", retired=True)).status_code == 200

    hired = await create_staff(client, "lin.tao", "handler", department_code="law-enforcement")
    assert (hired.status_code, hired.json()["detail"]) == (422, "department 'law-enforcement' is retired")
    moved = await patch(client, "/v1/staff/ke.jianhua", department_code="law-enforcement")
    assert moved.status_code == 422
    # Its handlers stay until reassigned (they still handle its cases), and can be changed meanwhile.
    kept = await patch(client, "/v1/staff/gao.peng", phone="13800000000")
    assert (kept.status_code, kept.json()["department_code"]) == (200, "law-enforcement")
    assert (await patch(client, "/v1/staff/gao.peng", department_code="police")).status_code == 200


async def test_routing_never_names_a_retired_department(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Should a category in use still name one (retired by hand in the database), the report
    waits in triage rather than go to a department no one reads."""
    await create_department(client)
    await create_category(client, "0501")
    async with session_scope(sessions) as session:
        await session.execute(
            update(Department).where(Department.code == "law-enforcement").values(retired_at=utcnow())
        )

    resolution = (await client.get("/v1/routing/resolve", params={"category": "0501"})).json()

    assert (resolution["department"], resolution["source"]) == (None, "none")


async def test_a_category_given_the_department_while_it_retires_waits_and_is_refused(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    """Each passed its check before the other wrote: an active category named a retired department."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: two changes never overlap")
    async with session_scope(sessions) as session:
        for code in ("law-enforcement", "police"):
            department = DepartmentCreate(code=code, name_zh="执法中队", name_en="Squad")
            await departments.create_department(session, data=department, actor_id="a")
        category = CategoryCreate.model_validate(
            {
                "code": "0501",
                "name_zh": "占道经营",
                "name_en": "Stall",
                "class_zh": "街面秩序",
                "class_en": "Street order",
                "time_limit_hours": 2,
                "department_code": "police",
            }
        )
        await catalog.create_category(session, data=category, actor_id="a")
    async with sessions() as first, sessions() as second:
        await departments.update_department(
            first, code="law-enforcement", data=DepartmentUpdate(retired=True), if_match='"1"', actor_id="a"
        )
        racing = asyncio.create_task(
            catalog.update_category(
                second,
                code="0501",
                data=CategoryUpdate(department_code="law-enforcement"),
                if_match='"1"',
                actor_id="b",
            )
        )
        await asyncio.sleep(0.2)
        assert not racing.done()  # it waits for the department's row
        await first.commit()
        with pytest.raises(Unprocessable, match="department 'law-enforcement' is retired"):
            await racing
