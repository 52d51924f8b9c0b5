"""A re-division: retiring regions an import replaces (the collection's ``retire`` member)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.grid.factories import (
    CELL_A1,
    CELL_A2,
    CELL_B1,
    CELL_B2,
    COMMUNITY_A,
    COMMUNITY_B,
    LAT0,
    LON0,
    SIZE,
    box,
    collection,
    create_staff,
    feature,
    import_territory,
)
from tests.grid.test_regions import refused

# Community A drawn anew as one cell where A1 and A2 were.
CELL_A3 = "35020300100103"
MERGED = box(LON0, LAT0, LON0 + 2 * SIZE, LAT0 + SIZE)


def redivision(*retire: str, features: tuple[dict[str, Any], ...] | None = None) -> dict[str, Any]:
    drawn = (feature(CELL_A3, "镇海第3网格", MERGED),) if features is None else features
    return {**collection(*drawn), "retire": list(retire)}


async def locate(client: httpx.AsyncClient, lon: float) -> httpx.Response:
    return await client.get("/v1/locate", params={"lat": LAT0 + SIZE / 2, "lon": lon})


async def test_a_redivision_replaces_cells_in_one_import(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    await create_staff(client, "wang.fang", region_codes=[CELL_A1])

    # The new cell overlaps the two it replaces: taken, since they retire in the same import.
    summary = await import_territory(client, redivision(CELL_A1, CELL_A2))

    assert (summary["version"], summary["created"], summary["retired"]) == (2, 1, 2)
    assert summary["assigned_to_retired"] == ["wang.fang"]  # whom the admin must assign anew
    for lon in (LON0 + SIZE / 2, LON0 + 1.5 * SIZE):  # where A1 and where A2 were
        assert (await locate(client, lon)).json()["cell"]["code"] == CELL_A3
    exported = (await client.get("/v1/territory/cells")).json()  # intake's copy
    assert [c["code"] for c in exported["cells"]] == [CELL_A3, CELL_B1, CELL_B2]
    listed = (await client.get("/v1/regions", params={"level": "cell"})).json()
    assert [r["code"] for r in listed["items"]] == [CELL_A3, CELL_B1, CELL_B2]
    gone = (await client.get("/v1/regions", params={"retired": "true"})).json()
    assert [r["code"] for r in gone["items"]] == [CELL_A1, CELL_A2]
    assert all(r["retired_at"] for r in gone["items"])
    # Cases and people still name a retired cell: it is kept, and says so.
    old = (await client.get(f"/v1/regions/{CELL_A1}")).json()
    assert old["retired_at"] is not None and old["name"] == "镇海第1网格"
    community = (await client.get(f"/v1/regions/{COMMUNITY_A}")).json()
    assert (community["children"], community["retired_at"]) == ([CELL_A3], None)
    # The same file again changes nothing.
    again = await import_territory(client, redivision(CELL_A1, CELL_A2))
    assert (again["version"], again["unchanged"], again["retired"]) == (2, 1, 0)


async def test_without_retiring_the_overlap_is_refused(client: httpx.AsyncClient) -> None:
    await import_territory(client)

    errors = await refused(client, redivision())

    assert {e["code"] for e in errors} == {CELL_A3}
    assert all("overlapping cells" in e["problem"] for e in errors)


async def test_retiring_a_community_retires_its_cells(client: httpx.AsyncClient) -> None:
    await import_territory(client)

    summary = await import_territory(client, redivision(COMMUNITY_B, features=()))

    assert (summary["created"], summary["retired"], summary["by_level"]) == (0, 3, {})
    assert (await locate(client, LON0 + 2.5 * SIZE)).status_code == 404  # B1 was there
    assert (await locate(client, LON0 + 0.5 * SIZE)).json()["cell"]["code"] == CELL_A1
    gone = (await client.get("/v1/regions", params={"retired": "true"})).json()
    assert [r["code"] for r in gone["items"]] == [COMMUNITY_B, CELL_B1, CELL_B2]


async def test_a_retired_region_comes_back_when_imported_again(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    await import_territory(client, redivision(CELL_A1, CELL_A2))
    await import_territory(client, redivision(CELL_A3, features=()))

    back = await import_territory(
        client,
        collection(feature(CELL_A1, "镇海第1网格", box(LON0, LAT0, LON0 + SIZE, LAT0 + SIZE))),
    )

    assert (back["created"], back["updated"], back["unchanged"]) == (0, 1, 0)
    assert (await locate(client, LON0 + SIZE / 2)).json()["cell"]["code"] == CELL_A1
    assert (await client.get(f"/v1/regions/{CELL_A1}")).json()["retired_at"] is None


async def test_a_cell_under_a_retired_community_is_refused(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    await import_territory(client, redivision(COMMUNITY_B, features=()))
    new_cell = feature(
        "35020300100203", "仁安第3网格", box(LON0 + 2 * SIZE, LAT0, LON0 + 3 * SIZE, LAT0 + SIZE)
    )

    later = await refused(client, collection(new_cell))
    same_file = await refused(client, redivision(CELL_A1, features=(feature(CELL_A3, "x", None),)))

    assert later[0]["problem"].startswith(f"missing parent: region {COMMUNITY_B} is retired")
    assert same_file[0]["code"] == CELL_A3  # a cell needs a polygon; not a retirement problem
    # a cell whose community the same file retires
    errors = await refused(
        client, redivision(COMMUNITY_A, features=(feature(CELL_A3, "镇海第3网格", MERGED),))
    )
    assert errors == [
        {
            "code": CELL_A3,
            "problem": f"missing parent: region {COMMUNITY_A} is retired by this file",
            "feature": 0,
        }
    ]


async def test_bad_retirements_are_refused_and_write_nothing(client: httpx.AsyncClient) -> None:
    await import_territory(client)

    unknown = await refused(client, redivision("35020300100109", features=()))
    a1 = feature(CELL_A1, "镇海第1网格", box(LON0, LAT0, LON0 + SIZE, LAT0 + SIZE))
    both = await refused(client, redivision(CELL_A1, features=(a1,)))
    not_codes = await refused(client, {**collection(), "retire": ["abc", 7]})
    not_a_list = await refused(client, {**collection(), "retire": CELL_A1})
    nothing = await refused(client, {**collection(), "retire": []})

    assert unknown == [{"code": "35020300100109", "problem": "no region to retire: the code is not stored"}]
    assert both == [{"code": CELL_A1, "problem": "the file both imports and retires this region"}]
    assert [e["code"] for e in not_codes] == ["abc", None]
    assert "`retire` must be a list" in not_a_list[0]["problem"]
    assert "non-empty" in nothing[0]["problem"]
    assert (await client.get("/v1/regions", params={"retired": "true"})).json()["items"] == []
    assert (await locate(client, LON0 + SIZE / 2)).json()["cell"]["code"] == CELL_A1


async def test_a_retired_region_cannot_be_assigned_or_routed(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    await create_staff(client, "wang.fang", region_codes=[CELL_A1])
    await import_territory(client, redivision(CELL_A1, CELL_A2))

    assigned = await create_staff(client, "li.na", region_codes=[CELL_A2])
    moved = await client.put("/v1/staff/wang.fang/assignments", json={"region_codes": [CELL_A1, CELL_A3]})
    routed = await client.post(
        "/v1/routing/overrides",
        json={"region_code": CELL_A1, "category_code": "0501", "department_code": "law-enforcement"},
    )

    assert (assigned.status_code, moved.status_code, routed.status_code) == (422, 422, 422)
    assert assigned.json()["detail"] == f"region {CELL_A2} is retired"
    assert routed.json()["detail"] == f"region {CELL_A1} is retired"
    # A person still assigned to a retired cell can be changed otherwise, and assigned anew.
    etag = (await client.get("/v1/staff/wang.fang")).headers["etag"]
    renamed = await client.patch(
        "/v1/staff/wang.fang", json={"phone": "13800000009"}, headers={"If-Match": etag}
    )
    assert renamed.status_code == 200, renamed.text
    reassigned = await client.put("/v1/staff/wang.fang/assignments", json={"region_codes": [CELL_A3]})
    assert reassigned.json()["region_codes"] == [CELL_A3]
