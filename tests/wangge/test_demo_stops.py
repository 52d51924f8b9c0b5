"""The demo stopped by a service's refusal mid-day says what was refused and exits 1, with no
traceback, and leaves no work of its running behind."""

from __future__ import annotations

import asyncio
import inspect
import io
from typing import Any

import httpx
import pytest
from rich.console import Console

import wangge.demo as demo
from wangge.demo.day import Day
from wangge.demo.world import Api, DemoConfig, Staff, World, bounded


async def test_a_refusal_mid_day_is_said_and_the_demo_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    async def world(*_: Any) -> World:
        return World(cells=[], categories=[], staff={"dispatcher": [Staff("hong.yi", "dispatcher")]})

    async def refused(*_: Any) -> None:
        raise RuntimeError("POST http://127.0.0.1:8002/v1/cases/7/resolve → 409: the case is closed")

    monkeypatch.setattr(demo, "load_world", world)
    monkeypatch.setattr(demo, "plan_day", lambda *_: [])
    monkeypatch.setattr(Day, "triage", refused)
    out = io.StringIO()

    code = await demo.run_demo(DemoConfig(), Console(file=out, width=200))

    assert code == 1
    assert "the demo stopped mid-day: POST http://127.0.0.1:8002/v1/cases/7/resolve → 409" in out.getvalue()
    assert "Traceback" not in out.getvalue()


async def test_the_first_failure_stops_the_work_beside_it() -> None:
    finished: list[int] = []

    async def work(n: int) -> None:
        if n == 0:
            raise RuntimeError("refused")
        await asyncio.sleep(0.2)
        finished.append(n)

    with pytest.raises(RuntimeError, match="refused"):
        await bounded((work(n) for n in range(5)), limit=8)
    await asyncio.sleep(0.3)

    assert finished == []  # cancelled, not left running against closed clients


async def test_work_stopped_before_its_turn_is_closed_not_left_unawaited() -> None:
    """The work still waiting for its turn when the first failed was never awaited, and Python
    warned of it under the demo's own message ('coroutine … was never awaited')."""

    async def work(n: int) -> None:
        if n == 0:
            raise RuntimeError("refused")
        await asyncio.sleep(0.2)

    coroutines = [work(n) for n in range(5)]
    with pytest.raises(RuntimeError, match="refused"):
        await bounded(iter(coroutines), limit=1)

    assert [inspect.getcoroutinestate(c) for c in coroutines] == [inspect.CORO_CLOSED] * 5


async def test_a_locked_demo_account_is_named_with_when_to_try_again() -> None:
    """A grid worker who mistyped her password five times locks her username, and the demo
    stopped on grid's 429 printed as a URL and a JSON body, not naming whose sign-in it was."""

    def grid(request: httpx.Request) -> httpx.Response:
        problem = {"status": 429, "detail": "this username is locked after too many failed sign-ins"}
        return httpx.Response(429, json=problem, headers={"Retry-After": "42"})

    api = Api(DemoConfig())
    await api.grid.aclose()
    api.grid = httpx.AsyncClient(base_url="http://grid", transport=httpx.MockTransport(grid))
    try:
        with pytest.raises(RuntimeError) as raised:
            await api.try_login("wang.fang")
    finally:
        await api.aclose()

    assert str(raised.value) == (
        "wang.fang is locked after too many failed sign-ins: try again in 42 s, "
        "or have an admin set a new password"
    )
