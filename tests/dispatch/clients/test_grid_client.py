"""The grid client: typed answers, unknowns as None, faults as PeerUnavailable, a cache."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.dispatch.clients import grid as grid_client
from services.dispatch.clients.grid import MAX_QUESTIONS, GridClient
from shared.auth import ServiceTokens
from shared.errors import PeerUnavailable, Unauthorized
from tests.dispatch.fakes import CELL, CLIENT_SECRET, COMMUNITY, OTHER, STALL, FakeGrid, region


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


async def test_a_code_that_could_leave_its_path_segment_is_unknown_without_asking() -> None:
    fake = FakeGrid()
    grid = client(fake)
    for code in ("../catalog/0101", "..", "works?x=1", "works/", "works#x", "%2e%2e"):
        assert await grid.department(code) is None
        assert await grid.category(code) is None
    assert await grid.category("../departments/works") is None
    assert fake.calls == []
    await grid.aclose()


async def test_answers_are_cached_unknowns_too() -> None:
    fake = FakeGrid()
    grid = client(fake)
    for _ in range(3):
        await grid.resolve_route(STALL, CELL)
        await grid.resolve_route("nope", CELL)
    assert fake.questions == [[(STALL, CELL)], [("nope", CELL)]]
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
    assert fake.questions == [[(STALL, CELL)]]
    await grid.aclose()


async def test_the_questions_not_cached_go_to_grid_in_one_request() -> None:
    fake = FakeGrid()
    grid = client(fake)
    first = await grid.resolve_routes([(STALL, CELL), (OTHER, CELL), ("nope", CELL), (STALL, CELL)])
    assert fake.questions == [[(STALL, CELL), (OTHER, CELL), ("nope", CELL)]]
    stall = first[STALL, CELL]
    assert stall is not None and stall.source == "catalog"
    assert first["nope", CELL] is None
    again = await grid.resolve_routes([(STALL, CELL), (STALL, None), ("nope", CELL)])
    assert fake.questions[1:] == [[(STALL, None)]]  # only what was not cached
    assert again[STALL, CELL] == first[STALL, CELL] and again["nope", CELL] is None
    await grid.aclose()


async def test_more_than_grid_takes_at_once_is_asked_in_several_requests() -> None:
    fake = FakeGrid()
    grid = client(fake)
    pairs = [(STALL, f"cell-{i}") for i in range(MAX_QUESTIONS + 1)]
    answers = await grid.resolve_routes(pairs)
    assert [len(questions) for questions in fake.questions] == [MAX_QUESTIONS, 1]
    assert set(answers) == set(pairs)
    await grid.aclose()


async def test_concurrent_batches_share_the_questions_in_flight() -> None:
    fake = FakeGrid()
    grid = client(fake)
    await asyncio.gather(
        grid.resolve_routes([(STALL, CELL), (OTHER, CELL)]),
        grid.resolve_routes([(OTHER, CELL), (STALL, None)]),
    )
    assert fake.questions == [[(STALL, CELL), (OTHER, CELL)], [(STALL, None)]]
    await grid.aclose()


async def test_a_failed_request_fails_every_batch_that_waited_on_it_and_a_retry_asks_again() -> None:
    fake = FakeGrid(down=True)
    grid = client(fake)
    outcomes = await asyncio.gather(
        grid.resolve_routes([(STALL, CELL)]),
        grid.resolve_routes([(STALL, CELL), (OTHER, CELL)]),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, PeerUnavailable) for outcome in outcomes)
    fake.down = False
    answers = await grid.resolve_routes([(STALL, CELL), (OTHER, CELL)])
    assert answers[STALL, CELL] is not None and answers[OTHER, CELL] is not None
    await grid.aclose()


async def test_a_caller_that_goes_away_leaves_the_answer_in_the_cache() -> None:
    fake = FakeGrid()
    grid = client(fake)
    asking = asyncio.ensure_future(grid.resolve_routes([(STALL, CELL)]))
    await asyncio.sleep(0)  # the request is in flight
    asking.cancel()
    await asyncio.sleep(0.05)
    assert await grid.resolve_route(STALL, CELL) is not None
    assert fake.questions == [[(STALL, CELL)]]  # asked once: the second answer came from the cache
    await grid.aclose()


def many_cells(fake: FakeGrid, count: int, *, retired: bool = False) -> None:
    """``count`` more cells in the demo community (retired ones after the 800th code)."""
    for i in range(count):
        code = f"{COMMUNITY}{800 + i:03d}" if retired else f"{COMMUNITY}{100 + i:03d}"
        cell = region(code, f"第{i}网格", "cell")
        fake.regions[code] = {**cell, "retired_at": "2026-12-01T00:00:00Z"} if retired else cell


async def test_the_regions_names_of_a_level_every_page_retired_too_cached() -> None:
    fake = FakeGrid()
    many_cells(fake, 150)
    many_cells(fake, 3, retired=True)
    grid = client(fake)

    names = await grid.region_names("cell")
    await grid.region_names("cell")

    assert len(names) == 3 + 150 + 3 and COMMUNITY not in names  # the cells only
    assert (names[CELL], names[f"{COMMUNITY}249"], names[f"{COMMUNITY}802"]) == (
        "镇海社区第1网格",
        "第149网格",
        "第2网格",
    )
    assert fake.calls == [
        "/v1/regions?level=cell&limit=100",
        f"/v1/regions?level=cell&limit=100&cursor={COMMUNITY}197",  # after the demo's two, 100 to 197
        "/v1/regions?level=cell&retired=true&limit=100",
    ]
    await grid.aclose()


async def test_the_regions_read_are_bounded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeGrid()
    many_cells(fake, 250)
    monkeypatch.setattr(grid_client, "MAX_REGIONS", 150)
    grid = client(fake)

    names = await grid.region_names("cell")

    assert len(names) == 150 and names[CELL] == "镇海社区第1网格"
    assert [call.split("&cursor")[0] for call in fake.calls] == [
        "/v1/regions?level=cell&limit=100",
        "/v1/regions?level=cell&limit=100",  # and no third page
        "/v1/regions?level=cell&retired=true&limit=100",
    ]
    assert caplog.messages == ["regions {'level': 'cell'}: the first 150 named, grid may list more"]
    await grid.aclose()


async def test_regions_of_grid_down_raise_and_are_not_kept() -> None:
    fake = FakeGrid(down=True)
    grid = client(fake)
    with pytest.raises(PeerUnavailable):
        await grid.region_names("community")
    fake.down = False
    assert (await grid.region_names("community"))[COMMUNITY] == "镇海社区"
    await grid.aclose()
