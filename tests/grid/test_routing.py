"""Resolving where a report goes, and overrides per region."""

from __future__ import annotations

import httpx

from tests.grid.factories import (
    CELL_A1,
    CELL_A2,
    CELL_B1,
    COMMUNITY_A,
    create_category,
    create_department,
    create_handler,
    import_territory,
)


async def setup_catalog(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    await create_department(client)
    await create_department(
        client, "market-supervision", name_zh="工商所", name_en="Market supervision office"
    )
    await create_category(client)
    await create_category(
        client, "9901", None, name_zh="其他", class_zh="其他", class_en="Other", urgency="normal"
    )


async def resolve(client: httpx.AsyncClient, category: str, cell: str | None = None) -> httpx.Response:
    params = {"category": category} | ({"cell": cell} if cell else {})
    return await client.get("/v1/routing/resolve", params=params)


async def test_the_catalog_default_applies_without_an_override(client: httpx.AsyncClient) -> None:
    await setup_catalog(client)
    for cell in (CELL_A1, None):
        body = (await resolve(client, "0501", cell)).json()
        assert body["source"] == "catalog"
        assert body["region_code"] is None
        assert body["department"] == {
            "code": "law-enforcement",
            "name_zh": "执法中队",
            "name_en": "Law-enforcement squad",
            "active_handlers": 0,
        }
        assert body["category"]["urgency"] == "urgent"
        assert body["category"]["time_limit_hours"] == 2


async def test_a_community_override_wins_for_its_cells_only(client: httpx.AsyncClient) -> None:
    await setup_catalog(client)
    created = await client.post(
        "/v1/routing/overrides",
        json={"region_code": COMMUNITY_A, "category_code": "0501", "department_code": "market-supervision"},
    )
    assert created.status_code == 201
    assert created.json()["created_by"] == "pan.jun"

    inside = (await resolve(client, "0501", CELL_A1)).json()
    assert (inside["source"], inside["region_code"], inside["department"]["code"]) == (
        "override",
        COMMUNITY_A,
        "market-supervision",
    )
    elsewhere = (await resolve(client, "0501", CELL_B1)).json()
    assert (elsewhere["source"], elsewhere["department"]["code"]) == ("catalog", "law-enforcement")


async def test_the_nearest_override_wins_and_deleting_falls_back(client: httpx.AsyncClient) -> None:
    await setup_catalog(client)
    await client.post(
        "/v1/routing/overrides",
        json={"region_code": "350203", "category_code": "0501", "department_code": "market-supervision"},
    )
    on_cell = await client.post(
        "/v1/routing/overrides",
        json={"region_code": CELL_A1, "category_code": "0501", "department_code": "law-enforcement"},
    )
    assert (await resolve(client, "0501", CELL_A1)).json()["region_code"] == CELL_A1
    assert (await resolve(client, "0501", CELL_B1)).json()["region_code"] == "350203"

    duplicate = await client.post(
        "/v1/routing/overrides",
        json={"region_code": CELL_A1, "category_code": "0501", "department_code": "market-supervision"},
    )
    assert duplicate.status_code == 409

    # Only the id in plain digits deletes: "+1", "01" or "1_0" once named override 1 or 10 too.
    loose = [f"+{on_cell.json()['id']}", f"{on_cell.json()['id']}_0", f"0{on_cell.json()['id']}"]
    assert [(await client.delete(f"/v1/routing/overrides/{o}")).status_code for o in loose] == [422] * 3
    assert (await client.delete(f"/v1/routing/overrides/{on_cell.json()['id']}")).status_code == 204
    assert (await client.delete(f"/v1/routing/overrides/{2**63}")).status_code == 422  # beyond BIGINT
    assert (await resolve(client, "0501", CELL_A1)).json()["region_code"] == "350203"
    listed = (await client.get("/v1/routing/overrides", params={"category": "0501"})).json()
    assert [o["region_code"] for o in listed["items"]] == ["350203"]


async def test_a_category_without_department_goes_to_triage(client: httpx.AsyncClient) -> None:
    await setup_catalog(client)
    body = (await resolve(client, "9901", CELL_A1)).json()
    assert (body["source"], body["department"], body["region_code"]) == ("none", None, None)
    assert body["category"]["department_code"] is None


async def test_unknown_category_or_cell_is_404(client: httpx.AsyncClient) -> None:
    await setup_catalog(client)
    assert (await resolve(client, "0999", CELL_A1)).status_code == 404
    assert (await resolve(client, "0501", "35020300100199")).status_code == 404
    assert (await resolve(client, "not-a-code")).status_code == 422
    for area in ("350203", COMMUNITY_A):  # a region, not a cell: was a 200
        answer = await resolve(client, "0501", area)
        assert answer.status_code == 404
        assert answer.json()["detail"].endswith("not a grid cell")


async def test_an_override_names_regions_categories_and_departments_that_exist(
    client: httpx.AsyncClient,
) -> None:
    """Each unknown one is a 422 naming its field (an unknown category was a 404)."""
    await setup_catalog(client)
    good = {"region_code": CELL_A1, "category_code": "0501", "department_code": "law-enforcement"}
    for field, unknown in (
        ("region_code", "35020300100199"),
        ("category_code", "0999"),
        ("department_code", "nobody"),
    ):
        answer = await client.post("/v1/routing/overrides", json={**good, field: unknown})
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["field"] == field


async def test_many_questions_get_the_single_answers_in_one_request(client: httpx.AsyncClient) -> None:
    await setup_catalog(client)
    for region, department in ((COMMUNITY_A, "market-supervision"), (CELL_A1, "law-enforcement")):
        created = await client.post(
            "/v1/routing/overrides",
            json={"region_code": region, "category_code": "0501", "department_code": department},
        )
        assert created.status_code == 201
    questions = [
        ("0501", CELL_A1),  # the cell's own override
        ("0501", CELL_A2),  # the community's
        ("0501", CELL_B1),  # the catalog's
        ("0501", None),
        ("9901", CELL_A1),  # no department: triage
        ("0999", CELL_A1),  # unknown category
        ("0501", "35020300100199"),  # unknown cell
        ("A0101", "cell-7"),  # not even codes: unknown too
        ("0501", CELL_A1),  # asked twice
    ]
    response = await client.post(
        "/v1/routing/resolutions",
        json={"questions": [{"category": c} | ({"cell": cell} if cell else {}) for c, cell in questions]},
    )
    assert response.status_code == 200
    answers = response.json()["answers"]
    assert [(a["category"], a["cell"]) for a in answers] == questions
    for (category, cell), answer in zip(questions, answers, strict=True):
        single = await resolve(client, category, cell)
        if single.status_code == 404:
            assert (answer["resolution"], answer["unknown"]) == (None, single.json()["detail"])
        elif single.status_code == 422:  # not even a code: a single resolve checks the pattern
            assert (answer["resolution"], answer["unknown"]) == (None, "no category 'A0101' in the catalog")
        else:
            assert (answer["resolution"], answer["unknown"]) == (single.json(), None)
    sources = [a["resolution"]["source"] if a["resolution"] else None for a in answers]
    assert sources == ["override", "override", "catalog", "catalog", "none", None, None, None, "override"]
    assert answers[1]["resolution"]["region_code"] == COMMUNITY_A
    departments = [(a["resolution"] or {}).get("department") for a in answers]
    assert [d["code"] if d else None for d in departments] == [
        "law-enforcement",
        "market-supervision",
        "law-enforcement",
        "law-enforcement",
        None,
        None,
        None,
        None,
        "law-enforcement",
    ]


async def test_resolutions_count_the_departments_active_handlers(client: httpx.AsyncClient) -> None:
    """dispatch logs a case routed to a department nobody there can see it in: the answer says
    how many handlers who can sign in the department has, as its own answer does."""
    await setup_catalog(client)
    await create_handler(client, "lu.qiang", "law-enforcement")
    await create_handler(client, "ma.li", "law-enforcement")
    await create_handler(client, "ke.jianhua", "market-supervision", password=None)
    await client.post(
        "/v1/routing/overrides",
        json={"region_code": COMMUNITY_A, "category_code": "0501", "department_code": "market-supervision"},
    )
    response = await client.post(
        "/v1/routing/resolutions",
        json={"questions": [{"category": "0501", "cell": c} for c in (CELL_A1, CELL_B1)]},
    )
    departments = [a["resolution"]["department"] for a in response.json()["answers"]]
    assert [(d["code"], d["active_handlers"]) for d in departments] == [
        ("market-supervision", 0),
        ("law-enforcement", 2),
    ]
    assert (await resolve(client, "0501", CELL_A1)).json()["department"]["active_handlers"] == 0


async def test_resolutions_are_bounded(client: httpx.AsyncClient) -> None:
    await setup_catalog(client)
    bodies: list[dict[str, list[dict[str, str]]]] = [
        {"questions": []},
        {"questions": [{"category": "0501", "cell": CELL_A1}] * 501},
        {"questions": [{"category": "0" * 65}]},
    ]
    for body in bodies:
        response = await client.post("/v1/routing/resolutions", json=body)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
