"""Taking reports in and showing them to their reporters.

A report, its idempotency record and its ``report.received`` outbox message are written in
one transaction. The report is located against intake's local copy of the territory; when
no territory is loaded yet it is kept with ``located=false`` and the relay locates it before
sending it to dispatch.

Idempotency: the key is the ``Idempotency-Key`` header, or the report id when the header is
absent, scoped to the actor. The same key with the same body (SHA-256 of its canonical JSON)
replays the stored answer; with another body it is a 422; a report id already taken under
another key is a 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.access import can_read_report, report_channel
from services.intake.models import (
    CHANNEL_APP,
    RECEIVED,
    IdempotencyRecord,
    OutboxMessage,
    Report,
    ReportEvent,
)
from services.intake.reports import repository, rules
from services.intake.reports.schemas import (
    LocationOut,
    ReportCreate,
    ReportPage,
    ReportRead,
    ReportSummary,
    ReportUpdate,
)
from services.intake.territory.service import Territory
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.messages import REPORT_RECEIVED, ReportReceived
from shared.outbox import enqueue
from shared.schemas import decode_cursor, encode_cursor


@dataclass(frozen=True)
class Answer:
    """The answer to a create: stored with the idempotency record and replayed as is."""

    status: int
    body: dict[str, Any]
    report_id: uuid.UUID
    replayed: bool


async def create_report(
    session: AsyncSession,
    *,
    body: ReportCreate,
    actor: Actor,
    idempotency_key: str | None,
    territory: Territory,
    max_skew: timedelta,
    max_age: timedelta,
) -> Answer:
    key = idempotency_key or str(body.id)
    fingerprint = rules.request_hash(body.model_dump(mode="json"))
    record = await repository.idempotency_record(session, actor_id=actor.id, key=key)
    if record is not None:
        if record.request_hash != fingerprint:
            raise Unprocessable(
                "this Idempotency-Key was already used with a different request body",
                idempotency_key=key,
            )
        return Answer(record.response_status, record.response_body, body.id, replayed=True)

    now = utcnow()
    rules.check_seen_at(body.seen_at, now=now, max_skew=max_skew, max_age=max_age)
    if await session.get(Report, body.id) is not None:
        raise Conflict(f"report {body.id} already exists (sent under another Idempotency-Key)")

    placement = territory.locate(body.location.lat, body.location.lon)
    report = Report(
        id=body.id,
        category=body.category,
        description=body.description,
        lat=body.location.lat,
        lon=body.location.lon,
        address=body.location.address,
        located=placement is not None,
        grid_cell=placement.grid_cell if placement else None,
        community=placement.community if placement else None,
        seen_at=body.seen_at,
        received_at=now,
        reporter_id=actor.id,
        channel=report_channel(actor, CHANNEL_APP),
        photos=list(body.photos),
        status=RECEIVED,
        updated_at=now,
    )
    session.add(report)
    response = to_read(report, []).model_dump(mode="json")
    session.add(
        IdempotencyRecord(
            actor_id=actor.id,
            key=key,
            request_hash=fingerprint,
            response_status=201,
            response_body=response,
            created_at=now,
        )
    )
    enqueue(session, OutboxMessage, REPORT_RECEIVED, str(report.id), received_payload(report))
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent request with the same key or report id won
        raise Conflict("the same report is being submitted concurrently; retry to get its answer") from exc
    return Answer(201, response, report.id, replayed=False)


async def get_report(session: AsyncSession, *, report_id: uuid.UUID, actor: Actor) -> ReportRead:
    report = await session.get(Report, report_id)
    if report is None or not can_read_report(actor, report):
        raise NotFound(f"no report {report_id}")
    return to_read(report, await repository.events_of(session, report_id))


async def list_reports(session: AsyncSession, *, actor: Actor, limit: int, cursor: str | None) -> ReportPage:
    before = _position(cursor) if cursor else None
    rows = await repository.reports_of(session, reporter_id=actor.id, limit=limit + 1, before=before)
    items = [to_summary(report) for report in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor({"r": last.received_at.isoformat(), "i": str(last.id)})
    return ReportPage(items=items, next_cursor=next_cursor)


def received_payload(report: Report) -> dict[str, Any]:
    """The ``report.received`` message dispatch gets (its cell filled in once located)."""
    return ReportReceived(
        report_id=report.id,
        category=report.category,
        description=report.description,
        lat=report.lat,
        lon=report.lon,
        address=report.address,
        grid_cell=report.grid_cell,
        community=report.community,
        seen_at=report.seen_at,
        received_at=report.received_at,
        reporter_id=report.reporter_id,
        channel=report.channel,
        photos=list(report.photos),
    ).model_dump(mode="json")


def to_summary(report: Report) -> ReportSummary:
    return ReportSummary.model_validate(_fields(report))


def to_read(report: Report, events: Sequence[ReportEvent]) -> ReportRead:
    updates = [ReportUpdate.model_validate(event) for event in events]
    return ReportRead.model_validate({**_fields(report), "updates": updates})


def _fields(report: Report) -> dict[str, Any]:
    names = set(ReportSummary.model_fields) - {"location"}
    fields: dict[str, Any] = {name: getattr(report, name) for name in names}
    fields["location"] = LocationOut(lat=report.lat, lon=report.lon, address=report.address)
    return fields


def _position(cursor: str) -> tuple[datetime, uuid.UUID]:
    position = decode_cursor(cursor)
    try:
        return datetime.fromisoformat(position["r"]), uuid.UUID(position["i"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Unprocessable("cursor is not one this service issued") from exc
