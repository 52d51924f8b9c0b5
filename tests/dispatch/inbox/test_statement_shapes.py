"""A batch's look-ups and inserts come in a handful of statement shapes, each prepared once
per connection, not in a new statement for every batch size."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from services.dispatch.cases.repository import known_report_ids
from services.dispatch.inbox.repository import insert_returning_ids
from services.dispatch.models import CaseEvent
from shared.db import create_engine, create_session_maker, utcnow
from tests.dispatch.conftest import Dispatch


async def test_batches_of_every_size_reuse_a_few_prepared_statements(
    dispatch: Dispatch, database_url: str
) -> None:
    case = (await dispatch.new_case())["id"]
    engine = create_engine(database_url, pool_size=1)
    session_maker = create_session_maker(engine)
    try:
        async with session_maker() as session:
            for size in range(1, 101):
                ids = [uuid.uuid4() for _ in range(size)]
                assert await known_report_ids(session, ids) == set()
                events = [_event(case) for _ in range(size)]
                event_ids = await insert_returning_ids(session, CaseEvent, events)
                assert len(event_ids) == size and event_ids == sorted(event_ids)
            if engine.dialect.name == "postgresql":
                shapes = await session.execute(
                    text(
                        "SELECT count(*) FILTER (WHERE statement LIKE 'SELECT case_reports.report_id%'),"
                        " count(*) FILTER (WHERE statement LIKE 'INSERT INTO case_events%')"
                        " FROM pg_prepared_statements"
                    )
                )
                # one look-up (= ANY of an array) whatever the count, inserts of 1, 2, 4 … 64:
                # not 100 each
                assert tuple(shapes.one()) == (1, 7)
            await session.rollback()
    finally:
        await engine.dispose()


def _event(case_id: int) -> dict[str, object]:
    return {
        "case_id": case_id,
        "action": "commented",
        "from_status": "triage",
        "to_status": "triage",
        "actor_id": "pan.jun",
        "actor_role": "dispatcher",
        "note": "checked",
        "photos": [],
        "data": {},
        "at": utcnow(),
    }
