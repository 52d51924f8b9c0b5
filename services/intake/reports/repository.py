"""Queries over reports, their updates and idempotency records."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Insert, Table, Uuid, and_, any_, bindparam, delete, insert, or_, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.intake.models import IdempotencyRecord, OutboxMessage, Report, ReportEvent, UnattachedPhoto
from shared.db import json_dumps, one_of

_reports, _records, _outbox, _unattached = (
    cast(Table, model.__table__) for model in (Report, IdempotencyRecord, OutboxMessage, UnattachedPhoto)
)
# The columns a new report, record and message set (all but the generated ids and last_event_id).
_NEW_ROW_COLUMNS = {
    "r": [column for column in _reports.c if column.name != "last_event_id"],
    "i": [column for column in _records.c if column.name != "id"],
    "m": [column for column in _outbox.c if column.name != "id"],
}


def _insert_all(*, naming_photos: bool) -> Insert:
    """PostgreSQL: the three inserts as one statement (two data-modifying CTEs), one round
    trip; ``naming_photos``: with a third, the deletion of the waits of the photos the report
    names."""

    def values(prefix: str) -> dict[str, Any]:
        return {c.name: bindparam(f"{prefix}_{c.name}", type_=c.type) for c in _NEW_ROW_COLUMNS[prefix]}

    new_report = insert(_reports).values(values("r")).cte("new_report")
    new_record = insert(_records).values(values("i")).cte("new_record")
    if not naming_photos:
        return insert(_outbox).values(values("m")).add_cte(new_report, new_record)
    photo_ids = bindparam("a_photo_ids", type_=ARRAY(Uuid()))
    named = delete(_unattached).where(_unattached.c.photo_id == any_(photo_ids)).cte("named")
    return insert(_outbox).values(values("m")).add_cte(new_report, new_record, named)


_PARAMS = [
    (f"{prefix}_{c.name}", prefix, c.name) for prefix, columns in _NEW_ROW_COLUMNS.items() for c in columns
] + [("a_photo_ids", "a", "photo_ids")]
"""(bind parameter of ``_insert_all``, row, column) for every value it takes; ``a``: the
report's photos, which wait no more."""

# Built once, so each one's cache key is computed once (Core, not the ORM unit of work). A
# batch none of whose reports names an intake photo (photos stored elsewhere, or none) takes
# the statement without the photos' deletion: with it, empty, two alternating pairs of bench
# runs put intake's request path at 0.07 ms of CPU a report more and PostgreSQL at 0.02, though
# the runs' spread is as large (bench/HISTORY.md, the fifth session).
_INSERT_ALL = {naming: _insert_all(naming_photos=naming) for naming in (False, True)}
_INSERT_REPORT, _INSERT_RECORD, _INSERT_MESSAGE = insert(_reports), insert(_records), insert(_outbox)


async def insert_reports(
    engine: AsyncEngine,
    *,
    reports: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    messages: Sequence[Mapping[str, Any]],
    photo_ids: Sequence[Sequence[uuid.UUID]],
) -> None:
    """Insert new reports with their idempotency records and outbox messages (the i-th of each
    belong together), all or none, in a transaction of their own; the photos each names
    (``photo_ids``) wait no more to be named, from the same commit.

    A photo's wait is deleted under its row lock, which the purge of the photos nothing named
    passes over (``services/intake/photos/repository.py``): a photo a batch is naming is not
    deleted while the batch commits.

    PostgreSQL executes the one ``INSERT … WITH`` statement once per report, pipelined
    (asyncpg's ``executemany``: one prepared statement, one round trip for the batch), with
    the values in the driver's own form (:class:`_DriverInsert`). asyncpg runs an
    ``executemany`` in one implicit transaction, all or nothing, so the connection is left in
    autocommit: no ``BEGIN`` and ``COMMIT`` round trips around it (writing a batch of 20 cost
    intake 23.2 µs of CPU a report with them, 17.7 without, measured in-process).
    Raises ``IntegrityError`` when an (actor, key) pair or a report id is taken; nothing of
    the batch is stored then.
    """
    if engine.dialect.name == "postgresql":
        statement = _driver_insert_all(engine.dialect, naming_photos=any(photo_ids))
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            rows = statement.rows(reports, records, messages, photo_ids)
            await autocommit.exec_driver_sql(statement.sql, rows)
        return
    async with engine.begin() as connection:
        await connection.execute(_INSERT_RECORD, list(records))
        await connection.execute(_INSERT_REPORT, list(reports))
        await connection.execute(_INSERT_MESSAGE, list(messages))
        named = sorted({photo_id for ids in photo_ids for photo_id in ids})
        if named:
            await connection.execute(
                delete(_unattached).where(one_of(_unattached.c.photo_id, named, "sqlite"))
            )


@dataclass(frozen=True)
class _DriverInsert:
    """An ``_INSERT_ALL`` compiled once for the dialect, run by ``exec_driver_sql`` with positional rows.

    SQLAlchemy's per-row parameter processing was a third of the batch insert's CPU (80 → 52 µs
    per report, measured in-process on PostgreSQL). What that processing did for these values
    is done here: JSON columns are serialized; timestamps are timezone-aware already (asyncpg
    stores them as UTC) and UUIDs go to asyncpg as they are.
    """

    sql: str
    order: tuple[tuple[str, str], ...]
    """(row, column) of each positional parameter."""
    json_positions: tuple[int, ...]

    def rows(
        self,
        reports: Sequence[Mapping[str, Any]],
        records: Sequence[Mapping[str, Any]],
        messages: Sequence[Mapping[str, Any]],
        photo_ids: Sequence[Sequence[uuid.UUID]],
    ) -> list[tuple[Any, ...]]:
        rows = []
        for report, record, message, named in zip(reports, records, messages, photo_ids, strict=True):
            new = {"r": report, "i": record, "m": message, "a": {"photo_ids": list(named)}}
            values = [new[prefix][name] for prefix, name in self.order]
            for position in self.json_positions:
                values[position] = json_dumps(values[position])
            rows.append(tuple(values))
        return rows


@functools.cache
def _driver_insert_all(dialect: Dialect, *, naming_photos: bool) -> _DriverInsert:
    compiled = _INSERT_ALL[naming_photos].compile(dialect=dialect)
    where = {param: (prefix, name) for param, prefix, name in _PARAMS}
    order = tuple(where[param] for param in compiled.positiontup or ())
    json_columns = {
        (prefix, column.name)
        for prefix, columns in _NEW_ROW_COLUMNS.items()
        for column in columns
        if isinstance(column.type, JSON)
    }
    return _DriverInsert(
        sql=str(compiled),
        order=order,
        json_positions=tuple(i for i, key in enumerate(order) if key in json_columns),
    )


def outbox_row(topic: str, key: str, payload: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """An outbox message (``shared.outbox.OutboxMixin``'s columns) ready to send now."""
    return {
        "topic": topic,
        "key": key,
        "payload": payload,
        "created_at": now,
        "available_at": now,
        "attempts": 0,
        "lease_owner": None,
        "lease_until": None,
        "sent_at": None,
        "dead_at": None,
        "last_error": None,
    }


async def stored_keys(connection: AsyncConnection, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (actor, key) pairs among ``keys`` that have an idempotency record."""
    if not keys:
        return set()
    query = select(_records.c.actor_id, _records.c.key).where(
        tuple_(_records.c.actor_id, _records.c.key).in_(list(keys))
    )
    return {(actor_id, key) for actor_id, key in await connection.execute(query)}


async def stored_report_ids(connection: AsyncConnection, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    return set((await connection.scalars(select(_reports.c.id).where(_reports.c.id.in_(list(ids))))).all())


async def reporter_of(session: AsyncSession, report_id: uuid.UUID) -> str | None:
    """Who filed the report ``report_id``; None when there is none."""
    return await session.scalar(select(Report.reporter_id).where(Report.id == report_id))


async def idempotency_record(session: AsyncSession, *, actor_id: str, key: str) -> IdempotencyRecord | None:
    return await session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.actor_id == actor_id, IdempotencyRecord.key == key)
    )


async def events_of(session: AsyncSession, report_id: uuid.UUID) -> Sequence[ReportEvent]:
    return (
        await session.scalars(
            select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.event_id)
        )
    ).all()


async def reports_of(
    session: AsyncSession,
    *,
    reporter_id: str,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> Sequence[Report]:
    """The reporter's reports, newest first, strictly after the ``before`` position."""
    query = select(Report).where(Report.reporter_id == reporter_id)
    if before is not None:
        received_at, report_id = before
        query = query.where(
            or_(
                Report.received_at < received_at,
                and_(Report.received_at == received_at, Report.id < report_id),
            )
        )
    query = query.order_by(Report.received_at.desc(), Report.id.desc()).limit(limit)
    return (await session.scalars(query)).all()
