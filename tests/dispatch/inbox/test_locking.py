"""A batch locks only the cases its reports join, and copes with a case closed under it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.dispatch.inbox import repository
from services.dispatch.inbox.planning import NEW_CASE_KEY
from services.dispatch.inbox.repository import NearbyReport
from services.dispatch.inbox.service import _choose_and_lock
from services.dispatch.models import Case
from tests.dispatch import factories
from tests.dispatch.conftest import Dispatch
from tests.dispatch.fakes import STALL
from tests.dispatch.inbox.test_planning import NEW, expected_cases, open_cases_around

NEAR = 0.0002  # ≈ 22 m north


async def test_a_batch_does_not_wait_for_a_case_it_only_passes_near(
    dispatch: Dispatch, backend: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer: any transaction writing waits for another")
    # Two cases 85 m apart; the new report lies 33 m from the first and 60 m from the second,
    # which is inside the square the batch reads open cases from, but beyond the radius (50 m).
    joined = await dispatch.new_case(lat=factories.LAT - 0.0003)
    passed = await dispatch.new_case(lat=factories.LAT + 0.0004, lon=factories.LON + 0.0004)
    assert joined["id"] != passed["id"]

    read = repository.open_reports_in
    nearby: list[NearbyReport] = []

    async def spied(session: Any, areas: Any) -> list[NearbyReport]:
        nearby.extend(await read(session, areas))
        return nearby

    monkeypatch.setattr(repository, "open_reports_in", spied)
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
    assert passed["id"] in {n.case_id for n in nearby}  # the batch did read it as a candidate


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


async def test_cases_closed_under_a_batch_leave_it_and_the_rest_is_placed_as_the_definition_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(13)
    nearby, reports = open_cases_around(rng)
    closed = set(rng.sample(range(1, 61), 20))  # since the batch read them as open
    locks: list[list[int]] = []

    async def lock_cases(session: AsyncSession, ids: Sequence[int]) -> list[Case]:
        locks.append(list(ids))
        return [
            Case(id=i, status="closed" if i in closed else "dispatched", report_count=1, version=1)
            for i in ids
        ]

    monkeypatch.setattr(repository, "lock_cases", lock_cases)
    keys, locked = await _choose_and_lock(
        cast(AsyncSession, None), reports, nearby, radius_m=50, window_hours=4
    )

    open_nearby = [n for n in nearby if n.case_id not in closed]
    expected = expected_cases(reports, radius_m=50, window_hours=4, nearby=open_nearby)
    assert [NEW + key - NEW_CASE_KEY if key >= NEW_CASE_KEY else key for key in keys] == expected
    assert set(locked) == {case for case in expected if case < NEW}  # the open cases joined, no more
    assert len(locks) > 1  # some closed cases had been chosen: the batch chose again


async def test_a_category_correction_takes_turns_with_the_batches(
    dispatch: Dispatch, backend: str, database_url: str
) -> None:
    """A batch reads the open cases near its reports unlocked; a category corrected meanwhile
    let a report of the old category join. The correction now waits for the placement lock."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer: any transaction writing waits for another")
    case = await dispatch.new_case(category=None)
    plain = await dispatch.new_case(category=None, lat=factories.LAT + 0.01)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as batch:  # a batch placing its reports
            await batch.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": repository.PLACEMENT_LOCK}
            )
            correcting = asyncio.create_task(
                dispatch.act(
                    case["id"], "dispatch", {"department_code": "enforcement", "category_code": STALL}
                )
            )
            dispatching = asyncio.create_task(
                dispatch.act(plain["id"], "dispatch", {"department_code": "enforcement"})
            )
            await asyncio.sleep(0.3)
            assert not correcting.done()  # waits for the batch
            assert (await asyncio.wait_for(dispatching, timeout=5)).status_code == 200  # no category
            await batch.rollback()
        assert (await asyncio.wait_for(correcting, timeout=5)).status_code == 200
    finally:
        await engine.dispose()
