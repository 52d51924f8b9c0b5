"""A batch locks only the cases its reports join, and copes with a case closed under it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.dispatch.inbox import repository
from services.dispatch.inbox.repository import NearbyReport
from tests.dispatch import factories
from tests.dispatch.conftest import Dispatch

NEAR = 0.0002  # ≈ 22 m north


async def test_a_batch_does_not_wait_for_a_case_it_only_passes_near(
    dispatch: Dispatch, backend: str, database_url: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer: any transaction writing waits for another")
    # Two cases 85 m apart; the new report lies 33 m from the first and 60 m from the second,
    # which is inside the square the batch reads open cases from, but beyond the radius (50 m).
    joined = await dispatch.new_case(lat=factories.LAT - 0.0003)
    passed = await dispatch.new_case(lat=factories.LAT + 0.0004, lon=factories.LON + 0.0004)
    assert joined["id"] != passed["id"]

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as dispatcher:  # a dispatcher's command holding its case
            await dispatcher.execute(
                text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": passed["id"]}
            )
            report = factories.report()
            results = await asyncio.wait_for(dispatch.deliver(report), timeout=10)
            await dispatcher.rollback()
    finally:
        await engine.dispose()
    assert results[0]["detail"] == f"merged into case {joined['id']}"


async def test_a_case_closed_after_the_batch_read_it_is_not_joined(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The nearest case is rejected between the batch's read of open cases (stale here) and
    # its lock: the report goes to the next nearest open case instead.
    rejected = await dispatch.new_case()
    await dispatch.ok(rejected["id"], "reject", {"reason": "void", "note": "no stall there"})
    open_case = await dispatch.new_case(lat=factories.LAT + NEAR)
    stale = rejected["reports"][0]
    read = repository.open_reports_in

    async def stale_read(session: Any, areas: Any) -> list[NearbyReport]:
        seen = datetime.fromisoformat(stale["seen_at"].replace("Z", "+00:00"))
        found = NearbyReport(rejected["id"], rejected["category_code"], seen, stale["lat"], stale["lon"])
        return [found, *await read(session, areas)]

    monkeypatch.setattr(repository, "open_reports_in", stale_read)
    results = await dispatch.deliver(factories.report())

    assert results[0]["detail"] == f"merged into case {open_case['id']}"
    assert (await dispatch.read(rejected["id"]))["report_count"] == 1
    assert await dispatch.case_count() == 2
