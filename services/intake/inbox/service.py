"""Status messages from dispatch (``case.status_changed``), applied to the reports they name.

Messages may come twice or out of order. Each (report, event id) is stored once; the
report's view (status, case, department, deadline) follows only an event newer than the last
one applied. Report ids intake does not know are ignored: the message is still accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.inbox import repository
from services.intake.webhooks import service as webhooks
from services.intake.webhooks.service import Heard, may_have_webhook
from shared.db import utcnow
from shared.messages import (
    CASE_STATUS_CHANGED,
    CaseStatusChanged,
    InboxBatch,
    InboxMessage,
    InboxReply,
    InboxResult,
    InboxStatus,
)
from shared.schemas import RowId, Timestamp


class StatusChange(CaseStatusChanged):
    """``case.status_changed`` bounded to what intake stores."""

    event_id: RowId
    case_id: RowId
    case_number: str = Field(max_length=64)
    action: str = Field(max_length=64)
    status: str = Field(max_length=16)
    department_code: str | None = Field(default=None, max_length=64)
    department_name: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=4000)
    author_id: str | None = Field(default=None, max_length=64)
    author_note: str | None = Field(default=None, max_length=4000)
    deadline_at: Timestamp | None = None
    occurred_at: Timestamp


async def receive(session: AsyncSession, *, batch: InboxBatch) -> InboxReply:
    """Apply a batch in three statements, whatever its size (``inbox/repository.py``)."""
    changes = [_parse(message) for message in batch.messages]
    valid = [change for change in changes if isinstance(change, StatusChange)]
    known = await repository.reporters_of(
        session, {report_id for change in valid for report_id in change.report_ids}
    )
    # The first message naming a (report, event) pair owns it: a later one in the batch is a duplicate.
    owned: dict[tuple[uuid.UUID, int], StatusChange] = {}
    for change in valid:
        for report_id in change.report_ids:
            if report_id in known:
                owned.setdefault((report_id, change.event_id), change)
    now = utcnow()
    rows = {pair: _event_row(pair[0], change, known[pair[0]], now) for pair, change in owned.items()}
    stored = await repository.insert_events(session, list(rows.values()))
    # An integration's reports tell its webhook too (a grid worker's have none to tell).
    told = [
        Heard(known[pair[0]], rows[pair], owned[pair]) for pair in stored if may_have_webhook(known[pair[0]])
    ]
    await webhooks.enqueue_updates(session, told)
    newest: dict[uuid.UUID, StatusChange] = {}
    for report_id, event_id in stored:
        current = newest.get(report_id)
        if current is None or event_id > current.event_id:
            newest[report_id] = owned[report_id, event_id]
    await repository.move_views(
        session, [_view_row(report_id, change, now) for report_id, change in newest.items()]
    )
    return InboxReply(
        results=[
            _outcome(message, change, known, owned, stored)
            for message, change in zip(batch.messages, changes, strict=True)
        ]
    )


def _parse(message: InboxMessage) -> StatusChange | InboxResult:
    """The message's payload, or the result rejecting it."""
    if message.topic != CASE_STATUS_CHANGED:
        return _result(message, InboxStatus.rejected, f"intake does not take {message.topic!r}")
    try:
        return StatusChange.model_validate(message.payload)
    except ValidationError as exc:
        return _result(message, InboxStatus.rejected, _first_error(exc))


def _outcome(
    message: InboxMessage,
    change: StatusChange | InboxResult,
    known: Mapping[uuid.UUID, str],
    owned: dict[tuple[uuid.UUID, int], StatusChange],
    stored: set[tuple[uuid.UUID, int]],
) -> InboxResult:
    if isinstance(change, InboxResult):
        return change
    pairs = [(report_id, change.event_id) for report_id in change.report_ids if report_id in known]
    if not pairs:
        return _result(message, InboxStatus.accepted, "no report known here")
    applied = any(pair in stored and owned[pair] is change for pair in pairs)
    return _result(message, InboxStatus.accepted if applied else InboxStatus.duplicate)


def _event_row(report_id: uuid.UUID, change: StatusChange, reporter_id: str, now: datetime) -> dict[str, Any]:
    """The event as the report's reporter reads it: with the note for every reporter, or the
    author's own note on her own report."""
    own = change.author_note if change.author_id == reporter_id else None
    return {
        "report_id": report_id,
        "event_id": change.event_id,
        "case_id": change.case_id,
        "action": change.action,
        "status": change.status,
        "note": change.note if change.note is not None else own,
        "occurred_at": change.occurred_at,
        "received_at": now,
    }


def _view_row(report_id: uuid.UUID, change: StatusChange, now: datetime) -> dict[str, Any]:
    return {
        "id": report_id,
        "status": change.status,
        "case_id": change.case_id,
        "case_number": change.case_number,
        "department_code": change.department_code,
        "department_name": change.department_name,
        "deadline_at": change.deadline_at,
        "last_event_id": change.event_id,
        "updated_at": now,
    }


def _result(message: InboxMessage, status: InboxStatus, detail: str | None = None) -> InboxResult:
    return InboxResult(key=message.key, status=status, detail=detail)


def _first_error(exc: ValidationError) -> str:
    error: dict[str, Any] = dict(exc.errors()[0])
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"payload.{where}: {error.get('msg', 'invalid')}"[:500]
