"""Small builders of grid data: GeoJSON features and API calls."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.identity.service import create_staff_with_password
from services.grid.staff.schemas import StaffCreate
from shared.db import session_scope

DISTRICT = "350203"
SUBDISTRICT = "350203001"
COMMUNITY_A = "350203001001"
COMMUNITY_B = "350203001002"
CELL_A1, CELL_A2 = "35020300100101", "35020300100102"
CELL_B1, CELL_B2 = "35020300100201", "35020300100202"

# Cells are axis-aligned squares 0.01° wide on one row from 118.00 E, between 24.00 and 24.01 N:
# A1 | A2 | B1 | B2, so points on their borders are exact.
LON0, LAT0, SIZE = 118.0, 24.0, 0.01


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


def cell_box(column: int) -> dict[str, Any]:
    return box(LON0 + column * SIZE, LAT0, LON0 + (column + 1) * SIZE, LAT0 + SIZE)


def feature(code: str, name: str, geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"code": code, "name": name, **properties}, "geometry": geometry}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def small_territory() -> dict[str, Any]:
    """A district and subdistrict without geometry, two communities of two cells each."""
    return collection(
        feature(DISTRICT, "思明区", None, name_en="Siming District"),
        feature(SUBDISTRICT, "中华街道", None),
        feature(COMMUNITY_A, "镇海社区", box(LON0, LAT0, LON0 + 2 * SIZE, LAT0 + SIZE)),
        feature(COMMUNITY_B, "仁安社区", box(LON0 + 2 * SIZE, LAT0, LON0 + 4 * SIZE, LAT0 + SIZE)),
        feature(CELL_A1, "镇海第1网格", cell_box(0)),
        feature(CELL_A2, "镇海第2网格", cell_box(1)),
        feature(CELL_B1, "仁安第1网格", cell_box(2)),
        feature(CELL_B2, "仁安第2网格", cell_box(3)),
    )


async def import_territory(client: httpx.AsyncClient, data: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post("/v1/regions/import", json=data or small_territory())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_department(
    client: httpx.AsyncClient, code: str = "law-enforcement", **fields: Any
) -> dict[str, Any]:
    body = {"code": code, "name_zh": "执法中队", "name_en": "Law-enforcement squad", **fields}
    response = await client.post("/v1/departments", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_category(
    client: httpx.AsyncClient,
    code: str = "0501",
    department_code: str | None = "law-enforcement",
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "code": code,
        "name_zh": "占道经营",
        "name_en": "Street stall blocking the road",
        "class_zh": "街面秩序",
        "class_en": "Street order",
        "urgency": "urgent",
        "time_limit_hours": 2,
        "department_code": department_code,
        **fields,
    }
    response = await client.post("/v1/catalog", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_staff(
    client: httpx.AsyncClient, username: str, role: str = "grid_worker", **fields: Any
) -> httpx.Response:
    return await client.post("/v1/staff", json={"username": username, "name": "王芳", "role": role, **fields})


PASSWORD = "correct horse battery"


async def create_handler(
    client: httpx.AsyncClient,
    username: str,
    department_code: str = "law-enforcement",
    *,
    password: str | None = PASSWORD,
    **fields: Any,
) -> httpx.Response:
    """A handler as an admin makes one through the API: created, then given ``password`` (None:
    none yet, so they cannot sign in and do not count among the department's active handlers).
    The person as read last, with their current ``ETag``."""
    created = await create_staff(client, username, "handler", department_code=department_code, **fields)
    assert created.status_code == 201, created.text
    if password is not None:
        set_password = await client.put(f"/v1/staff/{username}/password", json={"password": password})
        assert set_password.status_code == 204, set_password.text
    return await client.get(f"/v1/staff/{username}")


async def staff_with_password(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    password: str | None = PASSWORD,
    role: str = "grid_worker",
    **fields: Any,
) -> None:
    """A staff member made the way ``wangge user add`` makes one (straight into the database)."""
    data = StaffCreate.model_validate({"username": username, "name": "王芳", "role": role, **fields})
    async with session_scope(sessions) as session:
        await create_staff_with_password(session, data=data, password=password, actor_id="test")


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


async def client_credentials(client: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
