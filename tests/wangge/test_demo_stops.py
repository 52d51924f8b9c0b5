"""The demo stopped by a service's refusal mid-day says what was refused and exits 1, with no
traceback, and leaves no work of its running behind."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from rich.console import Console

import wangge.demo as demo
from wangge.demo.day import Day
from wangge.demo.world import DemoConfig, Staff, World, bounded


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
