"""超期自动督办: dispatch urges, as the system, each case left past its deadline, once per deadline."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import Select, Update, event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.dispatch.settings import DispatchSettings
from services.dispatch.supervision import escalation
from services.dispatch.supervision.escalation import Escalation, Urged
from shared.db import create_engine
from tests.dispatch import factories
from tests.dispatch.conftest import DISPATCHER, HANDLER, SUPERVISOR, WORKER, Dispatch, StartDispatch
from tests.dispatch.fakes import FakeGrid, FakeIntake

OFFICE = ZoneInfo("Asia/Shanghai")


async def overdue_case(dispatch: Dispatch, *, spot: int = 0, **overrides: Any) -> dict[str, Any]:
    """A new case (dispatched to enforcement by the routing rules) whose deadline passed an hour
    ago; ``spot`` puts it ~1 km further north for each step, away from the others."""
    case = await dispatch.new_case(lat=factories.LAT + 0.01 * spot, **overrides)
    return await past_deadline(dispatch, case)


async def past_deadline(dispatch: Dispatch, case: dict[str, Any]) -> dict[str, Any]:
    deadline = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    await dispatch.set_case(case["id"], deadline_at=deadline)
    return await dispatch.read(case["id"])


def urgings(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in case["timeline"] if entry["action"] == "urged"]


async def listed_urged(dispatch: Dispatch) -> list[int]:
    page = await dispatch.client.get("/v1/cases", params={"urged": "true"}, headers=DISPATCHER)
    return [case["id"] for case in page.json()["items"]]


def running_loops() -> list[asyncio.Task[Any]]:
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "Escalation.run_forever"
    ]


async def test_a_case_past_its_deadline_is_urged_once_however_many_passes_run(dispatch: Dispatch) -> None:
    late = await overdue_case(dispatch)
    waiting = await dispatch.new_case(lat=factories.LAT + 0.01)  # its deadline ahead
    messages = len(await dispatch.outbox())

    assert await dispatch.escalation.run_pass() == [late["case_number"]]
    for _ in range(3):
        assert await dispatch.escalation.run_pass() == []

    urged = await dispatch.read(late["id"])
    assert (urged["status"], urged["urge_count"], urged["version"]) == ("dispatched", 1, late["version"] + 1)
    [entry] = urgings(urged)
    assert entry == urged["timeline"][-1]
    assert (entry["from_status"], entry["to_status"], entry["actor_id"], entry["actor_role"]) == (
        "dispatched",
        "dispatched",
        "system:clock",
        "service",
    )
    deadline = datetime.fromisoformat(late["deadline_at"]).astimezone(OFFICE)
    assert entry["note"] == f"超期自动督办：处置时限 {deadline:%Y-%m-%d %H:%M} 已过，请尽快处置"
    assert entry["data"] == {"deadline_at": late["deadline_at"]}  # as a dispatcher's urge names it
    assert (await dispatch.read(waiting["id"]))["urge_count"] == 0
    assert await listed_urged(dispatch) == [late["id"]]
    figures = (await dispatch.client.get("/v1/figures", headers=SUPERVISOR)).json()
    assert figures["total"]["urged"] == 1
    assert len(await dispatch.outbox()) == messages  # reporters hear nothing, as of any urging

    # the ETag read before the urging is stale now, as after any change
    stale = await dispatch.act(late["id"], "accept", if_match=f'"{late["version"]}"')
    assert stale.status_code == 412


async def test_only_cases_in_a_departments_hands_are_urged(dispatch: Dispatch) -> None:
    in_progress = await dispatch.new_case()
    await dispatch.ok(in_progress["id"], "accept")
    in_progress = await past_deadline(dispatch, in_progress)
    triage = await overdue_case(dispatch, spot=1, category=None)  # even with a deadline set
    rejected = await dispatch.new_case(lat=factories.LAT + 0.02, category=None)
    await dispatch.ok(rejected["id"], "reject", {"reason": "void", "note": "no stall there"})
    resolved = await dispatch.new_case(lat=factories.LAT + 0.03)
    await dispatch.ok(resolved["id"], "accept")
    await dispatch.ok(resolved["id"], "resolve", {"note": "已处理"})
    closed = await dispatch.new_case(lat=factories.LAT + 0.04)
    await dispatch.ok(closed["id"], "accept")
    await dispatch.ok(closed["id"], "resolve", {"note": "已处理"})
    await dispatch.ok(closed["id"], "verify", {"passed": True}, actor=WORKER)
    for case in (rejected, resolved, closed):
        await past_deadline(dispatch, case)

    assert await dispatch.escalation.run_pass() == [in_progress["case_number"]]
    entry = (await dispatch.read(in_progress["id"]))["timeline"][-1]
    assert (entry["action"], entry["from_status"], entry["to_status"]) == (
        "urged",
        "in_progress",
        "in_progress",
    )
    for case in (triage, rejected, resolved, closed):
        assert (await dispatch.read(case["id"]))["urge_count"] == 0
    assert await listed_urged(dispatch) == [in_progress["id"]]


async def test_a_new_deadline_is_urged_for_once_it_passes_too(dispatch: Dispatch) -> None:
    """An extension (延期) or a reassignment gives a new deadline: urged for in its turn once it
    passes, each deadline once. A dispatcher's urge does not stand for the system's."""
    case = await overdue_case(dispatch)
    await dispatch.ok(case["id"], "urge", {"note": "请今日处置"}, if_match=None)
    assert await dispatch.escalation.run_pass() == [case["case_number"]]

    extended = await dispatch.ok(case["id"], "extend", {"hours": 2, "note": "需协调供电部门"})
    assert await dispatch.escalation.run_pass() == []  # the new deadline is two hours away
    later = datetime.fromisoformat(extended["deadline_at"]) + timedelta(minutes=1)
    assert await dispatch.escalation.run_pass(later) == [case["case_number"]]
    assert await dispatch.escalation.run_pass(later + timedelta(hours=1)) == []

    moved = await dispatch.ok(case["id"], "reassign", {"department_code": "works", "note": "a pipe"})
    after_moved = datetime.fromisoformat(moved["deadline_at"]) + timedelta(minutes=1)
    assert await dispatch.escalation.run_pass(after_moved) == [case["case_number"]]
    assert await dispatch.escalation.run_pass(after_moved) == []

    detail = await dispatch.read(case["id"])
    assert detail["urge_count"] == 4  # the dispatcher's and three of the system's
    assert [(e["actor_id"], e["data"]["deadline_at"]) for e in urgings(detail)] == [
        ("li.dispatcher", case["deadline_at"]),
        ("system:clock", case["deadline_at"]),
        ("system:clock", extended["deadline_at"]),
        ("system:clock", moved["deadline_at"]),
    ]


async def test_a_pass_urges_every_case_due_a_batch_at_a_time_in_a_few_statements(
    dispatch: Dispatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = dispatch.escalation.session_maker.kw["bind"]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    one = await overdue_case(dispatch)
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        assert await dispatch.escalation.run_pass() == [one["case_number"]]
        for_one = len(statements)
        six = [await overdue_case(dispatch, spot=spot) for spot in range(1, 7)]
        statements.clear()
        assert sorted(await dispatch.escalation.run_pass()) == sorted(c["case_number"] for c in six)
        assert len(statements) == for_one  # not a round trip per case
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)

    late = [await overdue_case(dispatch, spot=spot) for spot in range(7, 12)]
    dispatch.escalation.batch_size = 2
    caplog.set_level(logging.INFO, logger="wangge.dispatch.escalation")
    urged = await dispatch.escalation.run_pass()
    assert sorted(urged) == sorted(c["case_number"] for c in late)
    assert caplog.messages == [f"urged 5 overdue cases as system:clock: {', '.join(urged)}"]
    for case in late:
        assert (await dispatch.read(case["id"]))["urge_count"] == 1
    last = await overdue_case(dispatch, spot=12)
    caplog.clear()
    await dispatch.escalation.run_pass()
    assert caplog.messages == [f"urged 1 overdue case as system:clock: {last['case_number']}"]


async def test_a_case_a_command_holds_is_left_for_the_next_pass(
    dispatch: Dispatch, backend: str, database_url: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer: the pass and a command take turns")
    held = await overdue_case(dispatch)
    free = await overdue_case(dispatch, spot=1)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as dispatcher:  # a dispatcher's command holding its case
            await dispatcher.execute(
                text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": held["id"]}
            )
            urged = await asyncio.wait_for(dispatch.escalation.run_pass(), timeout=10)
            await dispatcher.rollback()
    finally:
        await engine.dispose()
    assert urged == [free["case_number"]]
    assert (await dispatch.read(held["id"]))["urge_count"] == 0
    assert await dispatch.escalation.run_pass() == [held["case_number"]]


async def test_two_processes_passing_at_once_urge_each_case_once(
    dispatch: Dispatch, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer: two passes of one process take turns (of two: below)")
    cases = [await overdue_case(dispatch, spot=spot) for spot in range(4)]
    other = Escalation(dispatch.escalation.session_maker, zone=OFFICE, interval_seconds=60)
    real = escalation.urge_batch
    both_locked = asyncio.Barrier(2)
    batches = 0

    async def side_by_side(session: AsyncSession, **options: Any) -> list[Urged]:
        nonlocal batches
        batches += 1
        urged = list(await real(session, **options))
        if batches <= 2:  # the first batch of each: both hold their rows at once
            await asyncio.wait_for(both_locked.wait(), timeout=10)
        return urged

    monkeypatch.setattr(escalation, "urge_batch", side_by_side)
    dispatch.escalation.batch_size = other.batch_size = 2
    first, second = await asyncio.gather(dispatch.escalation.run_pass(), other.run_pass())

    assert sorted(first + second) == sorted(case["case_number"] for case in cases)
    assert first and second
    for case in cases:
        assert (await dispatch.read(case["id"]))["urge_count"] == 1


async def test_a_pass_that_read_a_case_another_process_urged_meanwhile_urges_it_not_again(
    dispatch: Dispatch, database_url: str
) -> None:
    """Two dispatch processes on one database, each with its own connection: one pass reads the
    overdue case, the other urges it and commits, then the first writes. On SQLite the read
    holds nothing (pysqlite begins the transaction at the first write), so the write must find
    the case still due; on PostgreSQL the first pass's lock makes the other skip it."""
    case = await overdue_case(dispatch)
    first_read, other_done = asyncio.Event(), asyncio.Event()

    class WritesAfterTheOther(AsyncSession):
        async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(statement, Update):
                first_read.set()
                await asyncio.wait_for(other_done.wait(), timeout=10)
            return await super().execute(statement, *args, **kwargs)

    class ReadsAfterTheFirst(AsyncSession):
        async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(statement, Select):
                await asyncio.wait_for(first_read.wait(), timeout=10)
            return await super().execute(statement, *args, **kwargs)

    engines = [create_engine(database_url), create_engine(database_url)]
    first, other = (
        Escalation(async_sessionmaker(engine, class_=session_class), zone=OFFICE, interval_seconds=60)
        for engine, session_class in zip(engines, (WritesAfterTheOther, ReadsAfterTheFirst), strict=True)
    )

    async def other_pass() -> list[str]:
        try:
            return await other.run_pass()
        finally:
            other_done.set()

    try:
        urged = await asyncio.gather(first.run_pass(), other_pass())
    finally:
        for engine in engines:
            await engine.dispose()

    assert sorted(urged[0] + urged[1]) == [case["case_number"]]
    detail = await dispatch.read(case["id"])
    assert detail["urge_count"] == 1
    assert len(urgings(detail)) == 1


async def test_the_loop_starts_with_dispatch_and_stops_with_it(start_dispatch: StartDispatch) -> None:
    async with start_dispatch(FakeGrid(), FakeIntake()) as dispatch:
        case = await overdue_case(dispatch)
        assert not running_loops()  # background tasks off

    started = start_dispatch(FakeGrid(), FakeIntake(), background_tasks=True, escalation_seconds=3600)
    async with started as dispatch:
        assert len(running_loops()) == 1
        for _ in range(100):  # the first pass comes as dispatch starts
            urged = await dispatch.read(case["id"])
            if urged["urge_count"]:
                break
            await asyncio.sleep(0.05)
        assert urged["urge_count"] == 1 and urged["timeline"][-1]["actor_id"] == "system:clock"
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 4  # not the hour's wait for the next pass
    assert not running_loops()


async def test_with_automatic_urging_off_nothing_is_urged(start_dispatch: StartDispatch) -> None:
    async with start_dispatch(FakeGrid(), FakeIntake()) as dispatch:
        case = await overdue_case(dispatch)
    off = start_dispatch(
        FakeGrid(), FakeIntake(), background_tasks=True, auto_urge=False, escalation_seconds=1
    )
    async with off as dispatch:
        await asyncio.sleep(1.2)
        assert not running_loops()
        assert (await dispatch.read(case["id"]))["urge_count"] == 0
        await dispatch.ok(case["id"], "accept", actor=HANDLER)  # the relay still runs


async def test_a_failing_pass_is_logged_and_made_again_at_the_next_interval(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    case = await overdue_case(dispatch)
    real = escalation.urge_batch
    calls = 0

    async def flaky(session: AsyncSession, **options: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the database went away")
        return await real(session, **options)

    monkeypatch.setattr(escalation, "urge_batch", flaky)
    loop = Escalation(dispatch.escalation.session_maker, zone=OFFICE, interval_seconds=0.05)
    task = asyncio.create_task(loop.run_forever())
    try:
        for _ in range(100):
            if (await dispatch.read(case["id"]))["urge_count"]:
                break
            await asyncio.sleep(0.05)
    finally:
        loop.stop()
        await asyncio.wait_for(task, timeout=5)
    assert (await dispatch.read(case["id"]))["urge_count"] == 1
    assert "automatic urging failed; trying again in 0.05 s" in caplog.messages
    assert "the database went away" in caplog.text


async def test_a_pass_failing_after_a_batch_logs_the_cases_it_urged(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Each batch commits: the cases of those before a failing one stay urged, and the log says
    which, as of a pass that ran to its end."""
    first = await overdue_case(dispatch)
    second = await overdue_case(dispatch, spot=1)
    real = escalation.urge_batch
    calls = 0

    async def failing_second(session: AsyncSession, **options: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("the database went away")
        return await real(session, **options)

    monkeypatch.setattr(escalation, "urge_batch", failing_second)
    dispatch.escalation.batch_size = 1
    caplog.set_level(logging.INFO, logger="wangge.dispatch.escalation")

    with pytest.raises(ConnectionError):
        await dispatch.escalation.run_pass()

    assert (await dispatch.read(first["id"]))["urge_count"] == 1
    assert (await dispatch.read(second["id"]))["urge_count"] == 0
    assert caplog.messages == [f"urged 1 overdue case as system:clock: {first['case_number']}"]


def test_the_interval_is_bounded_and_urging_is_on_by_default() -> None:
    settings = DispatchSettings()
    assert (settings.auto_urge, settings.escalation_seconds) == (True, 60)
    for seconds in (0, 3601):
        with pytest.raises(ValidationError, match="escalation_seconds"):
            DispatchSettings(escalation_seconds=seconds)
