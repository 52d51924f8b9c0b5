"""The grid client: typed answers, unknowns as None, faults as PeerUnavailable, a cache."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.dispatch.clients.grid import GridClient
from shared.auth import ServiceTokens
from shared.errors import PeerUnavailable, Unauthorized
from tests.dispatch.fakes import CELL, CLIENT_SECRET, OTHER, STALL, FakeGrid


def client(grid: FakeGrid, cache_seconds: float = 60, secret: str = CLIENT_SECRET) -> GridClient:
    transport = httpx.MockTransport(grid.handler)
    http = httpx.AsyncClient(base_url="http://grid", transport=transport)
    tokens = ServiceTokens(http, client_id="dispatch", client_secret=secret)
    return GridClient("http://grid", transport=transport, cache_seconds=cache_seconds, tokens=tokens)


async def test_routes_departments_and_catalog_come_back_typed() -> None:
    grid = client(FakeGrid())
    route = await grid.resolve_route(STALL, CELL)
    assert route is not None and route.department is not None
    assert (route.department.code, route.category.time_limit_hours, route.source) == (
        "enforcement",
        24,
        "catalog",
    )
    unrouted = await grid.resolve_route(OTHER, CELL)
    assert unrouted is not None and unrouted.department is None and unrouted.source == "none"
    assert await grid.resolve_route("nope", CELL) is None
    assert (await grid.department("works")).name_zh == "市政所"  # type: ignore[union-attr]
    assert await grid.department("nobody") is None
    assert (await grid.category(STALL)).name_zh == "占道经营"  # type: ignore[union-attr]
    await grid.aclose()


async def test_answers_are_cached_unknowns_too() -> None:
    fake = FakeGrid()
    grid = client(fake)
    for _ in range(3):
        await grid.resolve_route(STALL, CELL)
        await grid.resolve_route("nope", CELL)
    assert len(fake.calls) == 2
    await grid.aclose()


async def test_a_grid_that_is_down_raises_peer_unavailable() -> None:
    fake = FakeGrid(down=True)
    grid = client(fake, cache_seconds=0)
    with pytest.raises(PeerUnavailable):
        await grid.resolve_route(STALL, CELL)
    fake.down = False
    assert await grid.resolve_route(STALL, CELL) is not None
    await grid.aclose()


async def test_calls_carry_one_service_token_fetched_once() -> None:
    fake = FakeGrid()
    grid = client(fake, cache_seconds=0)
    for _ in range(3):
        await grid.resolve_route(STALL, CELL)
        await grid.department("works")
    assert fake.token_calls == 1
    await grid.aclose()


async def test_a_wrong_client_secret_is_refused() -> None:
    grid = client(FakeGrid(), secret="guessed")
    with pytest.raises(Unauthorized):
        await grid.resolve_route(STALL, CELL)
    await grid.aclose()


async def test_concurrent_askers_of_one_answer_share_one_request() -> None:
    fake = FakeGrid()
    grid = client(fake)
    routes = await asyncio.gather(*(grid.resolve_route(STALL, CELL) for _ in range(5)))
    assert all(route == routes[0] and route is not None for route in routes)
    assert len([c for c in fake.calls if c.startswith("/v1/routing/resolve")]) == 1
    await grid.aclose()
