"""Group commit of new reports: concurrent reports share transactions, and nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.reports.writer import NewReport, ReportWriter
from shared.db import create_engine
from shared.errors import ServiceUnavailable

from ..conftest import Intake
from ..factories import report_body


@contextmanager
def counting_batches(engine: AsyncEngine) -> Iterator[list[int]]:
    """The batch inserts executed, each with one statement that inserts outbox messages (on
    PostgreSQL the batch's one statement, in its own implicit transaction; elsewhere the last
    of three); a batch that had to be tried again counts again."""
    batches: list[int] = []

    def on_execute(*args: Any) -> None:
        statement = args[2]
        if "INSERT INTO outbox" in statement:
            batches.append(1)

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield batches
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)


async def test_concurrent_reports_share_transactions(intake: Intake) -> None:
    bodies = [report_body() for _ in range(40)]

    with counting_batches(intake.app.state.reception.writer.engine) as batches:
        answers = await asyncio.gather(*(intake.post_report(body) for body in bodies))

    assert [answer.status_code for answer in answers] == [201] * 40
    assert await intake.report_count() == 40
    assert sorted(m.key for m in await intake.outbox()) == sorted(body["id"] for body in bodies)
    assert 1 <= len(batches) < 40 / 4  # most reports went with others


async def test_a_retry_in_a_batch_replays_and_the_others_are_written(intake: Intake) -> None:
    """A stored key breaks its batch's insert: it is left out and the rest go in together."""
    first = report_body()
    taken = await intake.post_report(first)
    fresh = [report_body() for _ in range(5)]
    writer: ReportWriter = intake.app.state.reception.writer
    sizes = await _one_batch(writer)

    answers = await asyncio.gather(
        *(intake.post_report(body) for body in fresh[:2]),
        intake.post_report(first),
        intake.post_report({**first, "description": "another body"}),
        *(intake.post_report(body) for body in fresh[2:]),
    )

    statuses = [answer.status_code for answer in answers]
    assert statuses == [201, 201, 201, 422, 201, 201, 201]
    # The batch of seven: the later copy of a key left out before, the stored key after its
    # insert failed, and the five new reports in one transaction.
    assert sizes == [6, 5]
    replay = answers[2]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == taken.json()
    assert await intake.report_count() == 6
    assert len(await intake.outbox()) == 6


async def _one_batch(writer: ReportWriter, size: int = 7) -> list[int]:
    """Make the writer's next ``size`` reports one batch; the sizes of the inserts it then makes."""
    writer.concurrency = 1
    sizes: list[int] = []
    arrived = 0
    all_here = asyncio.Event()
    write, insert = writer.write, writer._insert

    async def counted(rows: NewReport) -> bool:
        nonlocal arrived
        arrived += 1
        if arrived == size:
            all_here.set()
        await all_here.wait()  # all hand over in one turn, before the committer's first look
        return await write(rows)

    async def held(batch: Sequence[NewReport]) -> None:
        sizes.append(len(batch))
        await insert(batch)

    writer.write = counted  # type: ignore[method-assign]
    writer._insert = held  # type: ignore[method-assign]
    return sizes


async def test_the_same_new_report_twice_at_once_is_written_once(intake: Intake) -> None:
    body = report_body()

    answers = await asyncio.gather(*(intake.post_report(body) for _ in range(3)))

    assert [answer.status_code for answer in answers] == [201] * 3
    assert sorted(answer.headers.get("Idempotent-Replayed", "") for answer in answers) == ["", "true", "true"]
    assert all(answer.json() == answers[0].json() for answer in answers)
    assert await intake.report_count() == 1
    assert len(await intake.outbox()) == 1


async def test_a_database_out_of_reach_is_503_for_every_waiter() -> None:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:9/nowhere", pool_size=1)
    writer = ReportWriter(engine)
    try:
        outcomes = await asyncio.gather(*(writer.write(_rows()) for _ in range(3)), return_exceptions=True)
    finally:
        await engine.dispose()

    assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes), outcomes
    assert all(outcome.status == 503 for outcome in outcomes if isinstance(outcome, ServiceUnavailable))


async def test_closing_waits_for_the_reports_handed_over_then_refuses_new_ones(intake: Intake) -> None:
    writer: ReportWriter = intake.app.state.reception.writer
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    insert = writer._insert

    reached = asyncio.Event()

    async def held(batch: Sequence[NewReport]) -> None:
        reached.set()
        await gate
        await insert(batch)

    handed_over = asyncio.Semaphore(0)
    write = writer.write

    async def counted(rows: NewReport) -> bool:
        handed_over.release()
        return await write(rows)

    writer._insert = held  # type: ignore[method-assign]
    writer.write = counted  # type: ignore[method-assign]
    posting = [asyncio.create_task(intake.post_report(report_body())) for _ in range(5)]
    for _ in range(5):  # every report reached the writer
        await asyncio.wait_for(handed_over.acquire(), 5)
    await asyncio.wait_for(reached.wait(), 5)  # and a commit is in flight
    closing = asyncio.create_task(writer.close())
    await asyncio.sleep(0.05)

    assert not closing.done()  # the commit in flight holds it
    gate.set_result(None)
    await closing
    answers = await asyncio.gather(*posting)
    late = await intake.post_report(report_body())

    assert [answer.status_code for answer in answers] == [201] * 5
    assert await intake.report_count() == 5
    assert late.status_code == 503
    assert late.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("size", [1, 3])
async def test_max_batch_bounds_a_transaction(intake: Intake, size: int) -> None:
    writer: ReportWriter = intake.app.state.reception.writer
    writer.max_batch = size
    sizes: list[int] = []
    insert = writer._insert

    async def recorded(batch: Sequence[NewReport]) -> None:
        sizes.append(len(batch))
        await insert(batch)

    writer._insert = recorded  # type: ignore[method-assign]
    answers = await asyncio.gather(*(intake.post_report(report_body()) for _ in range(9)))

    assert [answer.status_code for answer in answers] == [201] * 9
    assert sum(sizes) == 9
    assert max(sizes) == size


def _rows(**report: Any) -> NewReport:
    report_id = uuid.uuid4()
    record = {"actor_id": "wang.fang", "key": str(report_id)}
    return NewReport(report={"id": report_id, **report}, record=record, message={})


async def test_a_report_handed_over_as_the_last_committer_finishes_is_committed(tmp_path: Path) -> None:
    """The committer finishes in the same turn as a new report arrives: it must not be left waiting."""
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    written: list[int] = []

    class GatedWriter(ReportWriter):
        async def _insert(self, batch: Sequence[NewReport]) -> None:
            if not written:
                await gate
            written.append(len(batch))

    writer = GatedWriter(create_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db"), concurrency=1)
    first = asyncio.create_task(writer.write(_rows()))
    await asyncio.sleep(0)  # the first report is handed over; its commit waits at the gate
    gate.set_result(None)  # the committer resumes next turn ...
    second = asyncio.create_task(writer.write(_rows()))  # ... and this report arrives right after

    assert await asyncio.wait_for(first, 5) is True
    assert await asyncio.wait_for(second, 5) is True
    assert written == [1, 1]
    await writer.close()


async def test_a_report_the_database_refuses_fails_alone(tmp_path: Path) -> None:
    stored: list[NewReport] = []

    class Refusing(ReportWriter):
        async def _insert(self, batch: Sequence[NewReport]) -> None:
            await asyncio.sleep(0)
            if any(rows.report.get("refused") for rows in batch):
                raise DataError("INSERT …", {}, ValueError("invalid byte sequence"))
            stored.extend(batch)

    writer = Refusing(create_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db"), concurrency=1)
    good, bad, other = _rows(), _rows(refused=True), _rows()

    writes = (writer.write(rows) for rows in (good, bad, other))
    outcomes = await asyncio.gather(*writes, return_exceptions=True)

    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], DataError)
    assert stored == [good, other]


async def test_nul_characters_are_refused_with_422(intake: Intake) -> None:
    in_text = await intake.post_report(report_body(description="摊位\x00占道"))
    in_list = await intake.post_report(report_body(photos=["https://files.example.org/a\x00.jpg"]))

    assert (in_text.status_code, in_list.status_code) == (422, 422)
    assert "NUL" in in_text.json()["detail"]
    assert await intake.report_count() == 0


async def test_a_value_postgresql_refuses_is_the_reporters_422_and_its_batch_mates_are_stored(
    intake: Intake, backend: str
) -> None:
    """asyncpg's refusals reach SQLAlchemy as a plain DBAPIError (SQLSTATE 22001 here), not DataError."""
    if backend == "sqlite":
        pytest.skip("SQLite stores a string of any length in any column")
    engine = intake.app.state.reception.writer.engine
    async with engine.begin() as connection:  # a column narrower than the contract: a migration's slip
        await connection.execute(text("ALTER TABLE reports ALTER COLUMN address TYPE VARCHAR(8)"))
    try:
        bodies = [report_body() for _ in range(3)]
        bodies[1]["location"]["address"] = "中山路 12 号东侧第三个路口"
        answers = await asyncio.gather(*(intake.post_report(body) for body in bodies))
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("ALTER TABLE reports ALTER COLUMN address TYPE VARCHAR(200)"))

    assert [answer.status_code for answer in answers] == [201, 422, 201]
    assert (
        answers[1].json()["detail"] == "a value in the request cannot be stored (out of range or malformed)"
    )
    assert sorted(m.key for m in await intake.outbox()) == sorted([bodies[0]["id"], bodies[2]["id"]])


async def test_an_unexpected_failure_of_the_insert_is_a_500_logged_once_with_its_traceback(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither a refused value nor a database out of reach: the error handler answers and logs it."""
    engine = intake.app.state.reception.writer.engine
    async with engine.begin() as connection:  # a migration's slip: the table the insert also writes is gone
        await connection.execute(text("ALTER TABLE outbox RENAME TO outbox_elsewhere"))
    try:
        answer = await intake.post_report(report_body())
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("ALTER TABLE outbox_elsewhere RENAME TO outbox"))

    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    logged = [r for r in caplog.records if r.name.startswith(("wangge.intake", "wangge.errors"))]
    assert [(r.name, r.levelname) for r in logged] == [("wangge.errors", "ERROR")]
    assert logged[0].exc_info is not None and "outbox" in str(logged[0].exc_info[1])
    assert await intake.report_count() == 0
