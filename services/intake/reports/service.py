"""Taking reports in and showing them to their reporters.

A report, its idempotency record and its ``report.received`` outbox message are written in
one transaction, which ``writer.py`` shares with the reports submitted at the same time; the
intake photos it names wait no more to be named from that commit on, and are kept (those
nothing names are deleted after a while: ``services/intake/photos/retention.py``).
The report is located against intake's local copy of the territory; when no territory is
loaded yet it is kept with ``located=false`` and the relay locates it before sending it to
dispatch.

Idempotency: the key is the ``Idempotency-Key`` header, or the report id when the header is
absent, scoped to the actor. The same key with the same body (SHA-256 of its canonical JSON)
replays the stored answer; with another body it is a 422; a report id already taken under
another key is a 409, worded for its reporter (retry with the first key) or another (a new id).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.access import can_read_report, report_channel
from services.intake.models import CHANNEL_APP, RECEIVED, Report, ReportEvent
from services.intake.reports import repository, rules
from services.intake.reports.schemas import (
    LocationOut,
    ReportCreate,
    ReportPage,
    ReportRead,
    ReportSummary,
    ReportUpdate,
)
from services.intake.reports.writer import NewReport, ReportWriter
from services.intake.territory.service import Territory
from shared.actors import Actor
from shared.db import session_scope, utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.messages import REPORT_RECEIVED
from shared.photos import photo_ids
from shared.schemas import Timestamp, decode_cursor, encode_cursor


@dataclass(frozen=True)
class Answer:
    """The answer to a create: stored with the idempotency record and replayed as is."""

    status: int
    body: dict[str, Any]
    report_id: uuid.UUID
    replayed: bool


@dataclass(frozen=True)
class Reception:
    """What taking a report needs; one per app, built at startup."""

    territory: Territory
    """intake's copy of the cells, to locate the report."""
    writer: ReportWriter
    """commits new reports, many per transaction under load."""
    session_maker: async_sessionmaker[AsyncSession]
    """for reading what a retry finds stored."""
    max_skew: timedelta
    """how far in the future ``seen_at`` may be (phone clocks drift)."""
    max_age: timedelta
    """how old ``seen_at`` may be."""


async def create_report(
    reception: Reception,
    *,
    body: ReportCreate,
    actor: Actor,
    idempotency_key: str | None,
    request_hash: str | None = None,
) -> Answer:
    """Write at once, with no reads first; only when the key or the id is taken, read what is stored.

    ``request_hash``: what a retry must match, when the body is not what the client sent (an
    Open311 request's, which gets a new id and time on each try): the hash of what it sent."""
    key = idempotency_key or str(body.id)
    keyed = idempotency_key is not None
    fingerprint = request_hash or rules.request_hash(body.model_dump(mode="json"))
    now = utcnow()
    try:
        rules.check_seen_at(body.seen_at, now=now, max_skew=reception.max_skew, max_age=reception.max_age)
    except Unprocessable:  # a retry of a request taken earlier still replays once its seen_at aged out
        async with session_scope(reception.session_maker) as session:
            answer = await _replay(
                session, actor_id=actor.id, key=key, fingerprint=fingerprint, report_id=body.id, keyed=keyed
            )
        if answer is None:
            raise
        return answer

    report = _new_report(body, actor, reception.territory, now)
    response = ReportRead.model_validate({**_fields(report), "updates": []}).model_dump(mode="json")
    record = {
        "actor_id": actor.id,
        "key": key,
        "request_hash": fingerprint,
        "response_status": 201,
        "response_body": response,
        "created_at": now,
    }
    payload = received_payload(response, reporter_id=actor.id)
    message = repository.outbox_row(REPORT_RECEIVED, str(body.id), payload, now=now)
    rows = NewReport(report=report, record=record, message=message, photo_ids=photo_ids(body.photos))
    if await reception.writer.write(rows):
        return Answer(201, response, body.id, replayed=False)
    # the key or the id is taken (perhaps by a concurrent request that won)
    async with session_scope(reception.session_maker) as session:
        return await _taken(
            session, actor_id=actor.id, key=key, fingerprint=fingerprint, report_id=body.id, keyed=keyed
        )


async def _taken(
    session: AsyncSession, *, actor_id: str, key: str, fingerprint: str, report_id: uuid.UUID, keyed: bool
) -> Answer:
    answer = await _replay(
        session, actor_id=actor_id, key=key, fingerprint=fingerprint, report_id=report_id, keyed=keyed
    )
    if answer is not None:
        return answer
    reporter = await repository.reporter_of(session, report_id)
    if reporter == actor_id:
        raise Conflict(
            f"report {report_id} was already submitted under another Idempotency-Key (or without "
            "one): retry it with the key it was first sent with"
        )
    if reporter is not None:  # someone else's: said without saying whose
        raise Conflict(f"the report id {report_id} is taken: a new report needs a new id")
    raise Conflict("the same report is being submitted concurrently; retry to get its answer")


async def _replay(
    session: AsyncSession, *, actor_id: str, key: str, fingerprint: str, report_id: uuid.UUID, keyed: bool
) -> Answer | None:
    """The stored answer to this key, or None when the key is new; 422 when it came with another
    body. ``keyed``: the client sent the key; without one, the report's id is the key."""
    record = await repository.idempotency_record(session, actor_id=actor_id, key=key)
    if record is None:
        return None
    if record.request_hash != fingerprint:
        if not keyed:
            raise Unprocessable(
                f"report {report_id} was already submitted with a different body: "
                "a retry sends the same body, a new report needs a new id"
            )
        raise Unprocessable(
            "this Idempotency-Key was already used with a different request body", idempotency_key=key
        )
    return Answer(record.response_status, record.response_body, report_id, replayed=True)


def _new_report(body: ReportCreate, actor: Actor, territory: Territory, now: datetime) -> dict[str, Any]:
    """The new report's row (every column but ``last_event_id``)."""
    placement = territory.locate(body.location.lat, body.location.lon)
    return {
        "id": body.id,
        "category": body.category,
        "description": body.description,
        "lat": body.location.lat,
        "lon": body.location.lon,
        "address": body.location.address,
        "located": placement is not None,
        "grid_cell": placement.grid_cell if placement else None,
        "community": placement.community if placement else None,
        "seen_at": body.seen_at,
        "received_at": now,
        "reporter_id": actor.id,
        "channel": report_channel(actor, CHANNEL_APP),
        "photos": list(body.photos),
        "status": RECEIVED,
        "case_id": None,
        "case_number": None,
        "department_code": None,
        "department_name": None,
        "deadline_at": None,
        "updated_at": now,
    }


async def get_report(session: AsyncSession, *, report_id: uuid.UUID, actor: Actor) -> ReportRead:
    report = await session.get(Report, report_id)
    if report is None or not can_read_report(actor, report):
        raise NotFound(f"no report {report_id}")
    return to_read(report, await repository.events_of(session, report_id))


class _Position(BaseModel):
    """The last report of the page before: received at ``r``, id ``i``."""

    r: Timestamp
    i: uuid.UUID


async def list_reports(session: AsyncSession, *, actor: Actor, limit: int, cursor: str | None) -> ReportPage:
    position = decode_cursor(cursor, _Position) if cursor else None
    before = (position.r, position.i) if position else None
    rows = await repository.reports_of(session, reporter_id=actor.id, limit=limit + 1, before=before)
    items = [to_summary(report) for report in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(_Position(r=last.received_at, i=last.id))
    return ReportPage(items=items, next_cursor=next_cursor)


def received_payload(answer: Mapping[str, Any], *, reporter_id: str) -> dict[str, Any]:
    """The ``report.received`` message dispatch gets (``shared.messages.ReportReceived``), taken
    from the 201 answer, which is JSON already: validating and dumping the contract's model
    again cost as much as the answer itself."""
    location = answer["location"]
    return {
        "report_id": answer["id"],
        "category": answer["category"],
        "description": answer["description"],
        "lat": location["lat"],
        "lon": location["lon"],
        "address": location["address"],
        "grid_cell": answer["grid_cell"],
        "community": answer["community"],
        "seen_at": answer["seen_at"],
        "received_at": answer["received_at"],
        "reporter_id": reporter_id,
        "channel": answer["channel"],
        "photos": answer["photos"],
    }


def to_summary(report: Report) -> ReportSummary:
    return ReportSummary.model_validate(_fields(report))


def to_read(report: Report, events: Sequence[ReportEvent]) -> ReportRead:
    updates = [ReportUpdate.model_validate(event) for event in events]
    return ReportRead.model_validate({**_fields(report), "updates": updates})


_SUMMARY_FIELDS = tuple(set(ReportSummary.model_fields) - {"location"})


def _fields(report: Report | Mapping[str, Any]) -> dict[str, Any]:
    """A report's fields as the schemas name them, from a loaded report or a new report's row."""
    row: Mapping[str, Any] = report if isinstance(report, Mapping) else _Attributes(report)
    fields: dict[str, Any] = {name: row[name] for name in _SUMMARY_FIELDS}
    fields["location"] = LocationOut(lat=row["lat"], lon=row["lon"], address=row["address"])
    return fields


class _Attributes(Mapping[str, Any]):
    """A loaded report read like a row."""

    def __init__(self, report: Report) -> None:
        self._report = report

    def __getitem__(self, name: str) -> Any:
        return getattr(self._report, name)

    def __iter__(self) -> Iterator[str]:
        return iter(Report.__table__.columns.keys())

    def __len__(self) -> int:
        return len(Report.__table__.columns)
