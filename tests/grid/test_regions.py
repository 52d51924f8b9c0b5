"""Importing the region tree and reading it back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.models import Region
from shared.db import session_scope
from tests.grid.factories import (
    CELL_A1,
    CELL_A2,
    COMMUNITY_A,
    LAT0,
    LON0,
    SIZE,
    SUBDISTRICT,
    box,
    cell_box,
    collection,
    feature,
    import_territory,
    small_territory,
)


async def refused(client: httpx.AsyncClient, data: Any) -> list[dict[str, Any]]:
    response = await client.post("/v1/regions/import", json=data)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/invalid-territory")
    errors: list[dict[str, Any]] = problem["errors"]
    return errors


async def test_import_creates_the_tree_and_bumps_the_version(client: httpx.AsyncClient) -> None:
    summary = await import_territory(client)
    assert summary == {
        "version": 1,
        "created": 8,
        "updated": 0,
        "unchanged": 0,
        "retired": 0,
        "by_level": {"district": 1, "subdistrict": 1, "community": 2, "cell": 4},
        "assigned_to_retired": [],
    }

    # The same file again changes nothing, and the version stays (intake would fetch every cell again).
    again = await import_territory(client)
    assert (again["version"], again["created"], again["updated"], again["unchanged"]) == (1, 0, 0, 8)

    cell = (await client.get(f"/v1/regions/{CELL_A1}")).json()
    assert cell["level"] == "cell"
    assert cell["parent_code"] == COMMUNITY_A
    assert [a["code"] for a in cell["ancestors"]] == [COMMUNITY_A, SUBDISTRICT, "350203"]
    assert cell["geometry"]["type"] == "Polygon"
    community = (await client.get(f"/v1/regions/{COMMUNITY_A}")).json()
    assert community["children"] == [CELL_A1, CELL_A2]


async def test_import_upserts_names_by_code(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    summary = await import_territory(
        client, collection(feature(CELL_A1, "新名字", cell_box(0), name_en="Renamed"))
    )
    assert (summary["created"], summary["updated"]) == (0, 1)
    cell = (await client.get(f"/v1/regions/{CELL_A1}")).json()
    assert (cell["name"], cell["name_en"]) == ("新名字", "Renamed")


async def test_a_moved_polygon_or_an_english_name_is_a_change(client: httpx.AsyncClient) -> None:
    """Only what is stored exactly as the file has it counts unchanged (and keeps the version)."""
    await import_territory(client)
    moved = box(LON0, LAT0, LON0 + SIZE, LAT0 + SIZE / 2)  # cell A1, half as tall
    first = await import_territory(client, collection(feature(CELL_A1, "镇海第1网格", moved)))
    assert (first["version"], first["updated"], first["unchanged"]) == (2, 1, 0)
    cell = (await client.get(f"/v1/regions/{CELL_A1}")).json()
    assert cell["geometry"]["coordinates"] == moved["coordinates"]

    renamed = feature(CELL_A1, "镇海第1网格", moved, name_en="Zhenhai 1")
    second = await import_territory(client, collection(renamed))
    assert (second["version"], second["updated"]) == (3, 1)
    third = await import_territory(client, collection(renamed))
    assert (third["version"], third["updated"], third["unchanged"]) == (3, 0, 1)


async def test_parents_may_be_stored_already(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    summary = await import_territory(
        client, collection(feature("35020300100103", "镇海第3网格", box(118.0, 24.01, 118.01, 24.02)))
    )
    assert summary["created"] == 1


async def test_invalid_geometry_names_the_feature(client: httpx.AsyncClient) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[118, 24], [118.01, 24.01], [118.01, 24], [118, 24.01], [118, 24]]],
    }
    data = small_territory()
    data["features"][4]["geometry"] = bowtie
    errors = await refused(client, data)
    assert errors[0]["code"] == CELL_A1
    assert errors[0]["problem"].startswith("invalid geometry: Self-intersection")


@pytest.mark.parametrize("kind", ["Polygon", "MultiPolygon"])
async def test_a_ring_that_does_not_close_is_refused(client: httpx.AsyncClient, kind: str) -> None:
    """It was taken, closed silently by shapely: RFC 7946 asks the ring's last position to
    repeat its first."""
    ring = [[118, 24], [118.01, 24], [118.01, 24.01], [118, 24.01]]
    data = small_territory()
    data["features"][4]["geometry"] = {
        "type": kind,
        "coordinates": [[ring]] if kind == "MultiPolygon" else [ring],
    }
    errors = await refused(client, data)
    assert [(e["code"], e["problem"]) for e in errors] == [
        (CELL_A1, "invalid GeoJSON: a ring must end at the position it starts from")
    ]


async def test_overlapping_cells_are_refused_new_with_new_and_new_with_stored(
    client: httpx.AsyncClient,
) -> None:
    data = small_territory()
    data["features"][5]["geometry"] = box(118.005, 24.0, 118.02, 24.01)  # A2 reaches into A1
    errors = await refused(client, data)
    assert [(e["code"], CELL_A2 in e["problem"] or CELL_A1 in e["problem"]) for e in errors] == [
        (CELL_A1, True)
    ]

    await import_territory(client)
    errors = await refused(
        client, collection(feature("35020300100103", "镇海第3网格", box(118.015, 24.005, 118.025, 24.02)))
    )
    assert {e["code"] for e in errors} == {"35020300100103"}
    assert "overlapping cells" in errors[0]["problem"]


async def test_missing_parent_is_refused(client: httpx.AsyncClient) -> None:
    errors = await refused(client, collection(feature(CELL_A1, "孤儿网格", cell_box(0))))
    assert errors == [
        {
            "code": CELL_A1,
            "problem": f"missing parent: region {COMMUNITY_A} is neither stored nor in the file",
            "feature": 0,
        }
    ]


@pytest.mark.parametrize("code", ["3502030010011", "35020A", "", "3502030010010012", "٣٥٠٢٠٣"])
async def test_bad_code_is_refused(client: httpx.AsyncClient, code: str) -> None:
    errors = await refused(client, collection(feature(code, "错误", None)))
    assert errors[0]["problem"].startswith("bad code")
    assert errors[0]["code"] == code


async def test_cells_need_a_polygon_and_coordinates_in_range(client: httpx.AsyncClient) -> None:
    data = small_territory()
    data["features"][4]["geometry"] = None
    data["features"][5]["geometry"] = box(190.0, 24.0, 191.0, 24.01)
    data["features"][6]["geometry"] = {"type": "Point", "coordinates": [118.0, 24.0]}
    errors = await refused(client, data)
    by_code = {e["code"]: e["problem"] for e in errors}
    assert by_code[CELL_A1].startswith("invalid geometry")
    assert by_code[CELL_A2].startswith("coordinates out of range")
    assert by_code["35020300100201"].startswith("invalid GeoJSON")


@pytest.mark.parametrize("data", [{"type": "Feature"}, {"type": "FeatureCollection", "features": []}, [1, 2]])
async def test_invalid_geojson_is_refused(client: httpx.AsyncClient, data: Any) -> None:
    response = await client.post("/v1/regions/import", json=data)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_names_and_coordinates_that_cannot_be_stored_or_read_are_named(
    client: httpx.AsyncClient,
) -> None:
    deep: Any = [118.0, 24.0]
    for _ in range(500):
        deep = [deep]
    cells = [
        feature(CELL_A1, "\ud800", box(118.0, 24.0, 118.01, 24.01)),  # a lone surrogate: was a 500
        feature(CELL_A2, "镇海 1", box(118.01, 24.0, 118.02, 24.01), name_en="\udfff"),
        feature("35020300100201", "a\x00b", box(118.02, 24.0, 118.03, 24.01)),  # NUL: stored on SQLite
        feature("35020300100202", "仁安 2", box(10**400, 24.0, 118.04, 24.01)),  # OverflowError: a 500
        feature("35020300100203", "仁安 3", box("118.04", 24.0, 118.05, 24.01)),  # type: ignore[arg-type]
        feature("35020300100204", "仁安 4", box(True, 24.0, 118.06, 24.01)),
        feature("35020300100205", "仁安 5", {"type": "Polygon", "coordinates": deep}),  # shapely recursed
        feature("\ud800x", "x", None),  # echoed in the answer: rendering it was a 500
    ]
    # ASCII JSON, as a client's encoder writes a lone surrogate: "\ud800".
    response = await client.post(
        "/v1/regions/import",
        content=json.dumps(collection(*cells)).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    by_code = {e["code"]: e["problem"] for e in response.json()["errors"]}
    assert by_code == {
        CELL_A1: "`name` contains a lone surrogate (U+D800 to U+DFFF), which is no character",
        CELL_A2: "`name_en` contains a lone surrogate (U+D800 to U+DFFF), which is no character",
        "35020300100201": "`name` contains a NUL character (U+0000)",
        "35020300100202": "invalid GeoJSON: unreadable coordinates (int too large to convert to float)",
        "35020300100203": "invalid GeoJSON: a Polygon's coordinates are numbers in positions",
        "35020300100204": "invalid GeoJSON: a Polygon's coordinates are numbers in positions",
        "35020300100205": "invalid GeoJSON: a Polygon's coordinates are numbers in positions",
        "\ud800x": "bad code: a unit-grid code is 6, 9, 12, 14 or 15 digits",
    }


@pytest.mark.parametrize("altitude", [float("nan"), float("inf")])
async def test_an_altitude_that_is_no_finite_number_is_refused(
    client: httpx.AsyncClient, altitude: float
) -> None:
    """NaN and Infinity are what Python's JSON reads (1e999 too): the ring passed every check on
    the plane and was stored with mixed dimensions or a null, and every locate was a 500."""
    await import_territory(client)
    west, south, east, north = LON0, LAT0, LON0 + SIZE, LAT0 + SIZE
    ring = [[west, south, altitude], [east, south, 4.0], [east, north, 4.0], [west, north, 4.0]]
    geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    response = await client.post(
        "/v1/regions/import",
        content=json.dumps(collection(feature(CELL_A1, "镇海第1网格", geometry))).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {
            "code": CELL_A1,
            "problem": "invalid GeoJSON: a Polygon's coordinates are numbers in positions",
            "feature": 0,
        }
    ]
    located = await client.get("/v1/locate", params={"lat": LAT0 + SIZE / 2, "lon": LON0 + SIZE / 2})
    assert located.status_code == 200, located.text
    assert located.json()["cell"]["code"] == CELL_A1


async def test_a_cell_stored_unreadable_is_mended_by_importing_it_again(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """What the import of an altitude of NaN left (before it was refused): the import read every
    stored cell's shape, the broken one's too, so no file could mend it (a 500)."""
    await import_territory(client)
    mixed = [
        [LON0, LAT0],
        [LON0 + SIZE, LAT0, 4.0],
        [LON0 + SIZE, LAT0 + SIZE, 4.0],
        [LON0, LAT0],
        [LON0, LAT0],
    ]
    async with session_scope(sessions) as session:
        await session.execute(
            update(Region)
            .where(Region.code == CELL_A1)
            .values(geometry={"type": "Polygon", "coordinates": [mixed]})
        )
    data = small_territory()
    data["features"][4]["name"] = "镇海第1网格（重绘）"
    response = await client.post("/v1/regions/import", json=data)
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == 1
    located = await client.get("/v1/locate", params={"lat": LAT0 + SIZE / 2, "lon": LON0 + SIZE / 2})
    assert located.json()["cell"]["code"] == CELL_A1


async def test_a_refused_import_writes_nothing(client: httpx.AsyncClient) -> None:
    data = small_territory()
    data["features"][7]["geometry"] = box(118.0, 24.0, 118.04, 24.01)  # B2 covers everything
    await refused(client, data)
    page = (await client.get("/v1/regions")).json()
    assert page["items"] == []
    assert (await client.get("/v1/territory/cells")).json()["version"] == "0"


async def test_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    cells = (await client.get("/v1/regions", params={"level": "cell", "limit": 3})).json()
    assert [r["code"] for r in cells["items"]] == [CELL_A1, CELL_A2, "35020300100201"]
    rest = (await client.get("/v1/regions", params={"level": "cell", "cursor": cells["next_cursor"]})).json()
    assert ([r["code"] for r in rest["items"]], rest["next_cursor"]) == (["35020300100202"], None)
    children = (await client.get("/v1/regions", params={"parent": COMMUNITY_A})).json()
    assert [r["code"] for r in children["items"]] == [CELL_A1, CELL_A2]
    assert (await client.get("/v1/regions/350203009")).status_code == 404
    assert (await client.get("/v1/regions", params={"parent": "٣٥٠٢٠٣"})).status_code == 422


async def test_two_first_imports_at_once_are_both_taken(client: httpx.AsyncClient) -> None:
    """The first import creates the territory's version row: two at once on a new database
    both inserted it, and the second was a 500. On SQLite the two never overlap."""
    first, second = await asyncio.gather(
        client.post("/v1/regions/import", json=small_territory()),
        client.post("/v1/regions/import", json=small_territory()),
    )

    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert [answer.json()["version"] for answer in (first, second)] == [1, 1]  # the same file twice
