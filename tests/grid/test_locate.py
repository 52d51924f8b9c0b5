"""Locate: which cell, community, subdistrict and district hold a point."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.regions.service import import_feature_collection
from services.grid.territory import index
from shared.db import session_scope
from tests.grid.factories import (
    CELL_A1,
    CELL_A2,
    CELL_B1,
    COMMUNITY_A,
    COMMUNITY_B,
    box,
    collection,
    feature,
    import_territory,
)


async def locate(client: httpx.AsyncClient, lat: float, lon: float) -> httpx.Response:
    return await client.get("/v1/locate", params={"lat": lat, "lon": lon})


async def test_a_point_inside_gets_every_level(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    body = (await locate(client, 24.005, 118.005)).json()
    assert {level: region["code"] for level, region in body.items()} == {
        "cell": CELL_A1,
        "community": COMMUNITY_A,
        "subdistrict": "350203001",
        "district": "350203",
    }
    assert body["cell"] == {
        "code": CELL_A1,
        "name": "镇海第1网格",
        "level": "cell",
        "parent_code": COMMUNITY_A,
    }
    other = (await locate(client, 24.005, 118.025)).json()
    assert (other["cell"]["code"], other["community"]["code"]) == (CELL_B1, COMMUNITY_B)


async def test_a_point_on_a_border_goes_to_the_smaller_code(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    assert (await locate(client, 24.005, 118.01)).json()["cell"]["code"] == CELL_A1
    between_communities = (await locate(client, 24.005, 118.02)).json()
    assert (between_communities["cell"]["code"], between_communities["community"]["code"]) == (
        CELL_A2,
        COMMUNITY_A,
    )


async def test_outside_the_territory_is_a_404_problem(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    response = await locate(client, 24.5, 118.5)
    assert response.status_code == 404
    assert response.json()["type"].endswith("/outside-territory")


async def test_an_empty_territory_locates_nothing(client: httpx.AsyncClient) -> None:
    response = await locate(client, 24.005, 118.005)
    assert response.status_code == 404
    assert response.json()["type"].endswith("/outside-territory")


@pytest.mark.parametrize(("lat", "lon"), [(91, 118), (-90.5, 118), (24, 180.1), (24, -181)])
async def test_out_of_range_coordinates_are_422(client: httpx.AsyncClient, lat: float, lon: float) -> None:
    response = await locate(client, lat, lon)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/validation")


async def test_an_import_by_another_process_is_picked_up(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await import_territory(client)
    assert (await locate(client, 24.015, 118.005)).status_code == 404

    async with session_scope(sessions) as session:
        await import_feature_collection(
            session,
            data=collection(feature("35020300100103", "镇海第3网格", box(118.0, 24.01, 118.01, 24.02))),
            actor_id="cli:import-grids",
        )

    response = await locate(client, 24.015, 118.005)
    assert response.status_code == 200
    assert response.json()["cell"]["code"] == "35020300100103"


async def test_grid_answers_other_requests_while_it_rebuilds_its_index(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rebuilding the index after an import took half a second of CPU for 10,000 cells, and
    every request waited behind it: it is built in a worker thread. Here the build waits until
    another request was answered, which it never is while the build holds the event loop."""
    await import_territory(client)
    build = index.CellIndex
    started, answered = threading.Event(), threading.Event()
    waited: list[bool] = []

    def building(*args: Any) -> Any:
        started.set()
        waited.append(answered.wait(5))
        return build(*args)

    monkeypatch.setattr(index, "CellIndex", building)

    async def health_meanwhile() -> httpx.Response:
        await asyncio.to_thread(started.wait, 5)
        response = await client.get("/healthz")
        answered.set()
        return response

    located, health = await asyncio.gather(locate(client, 24.005, 118.005), health_meanwhile())

    assert (located.status_code, health.status_code) == (200, 200)
    assert waited == [True]  # the health check was answered while the index was being built
