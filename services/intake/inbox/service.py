"""Status messages from dispatch (``case.status_changed``), applied to the reports they name.

Messages may come twice or out of order. Each (report, event id) is stored once; the
report's view (status, case, department, deadline) follows only an event newer than the last
one applied. Report ids intake does not know are ignored: the message is still accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import Report, ReportEvent
from shared.db import utcnow
from shared.errors import ServiceUnavailable
from shared.messages import (
    CASE_STATUS_CHANGED,
    CaseStatusChanged,
    InboxBatch,
    InboxMessage,
    InboxReply,
    InboxResult,
    InboxStatus,
)


class StatusChange(CaseStatusChanged):
    """``case.status_changed`` bounded to what intake stores."""

    case_number: str = Field(max_length=64)
    action: str = Field(max_length=64)
    status: str = Field(max_length=16)
    department_code: str | None = Field(default=None, max_length=64)
    department_name: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=4000)


async def receive(session: AsyncSession, *, batch: InboxBatch) -> InboxReply:
    results = [await _receive_one(session, message) for message in batch.messages]
    try:
        await session.flush()
    except IntegrityError as exc:  # the same event applied concurrently: let the sender retry
        raise ServiceUnavailable("a concurrent delivery of the same event; retry") from exc
    return InboxReply(results=results)


async def _receive_one(session: AsyncSession, message: InboxMessage) -> InboxResult:
    if message.topic != CASE_STATUS_CHANGED:
        return _result(message, InboxStatus.rejected, f"intake does not take {message.topic!r}")
    try:
        change = StatusChange.model_validate(message.payload)
    except ValidationError as exc:
        return _result(message, InboxStatus.rejected, _first_error(exc))
    known = (await session.scalars(select(Report).where(Report.id.in_(change.report_ids)))).all()
    if not known:
        return _result(message, InboxStatus.accepted, "no report known here")
    applied = 0
    for report in known:
        if await _apply(session, report, change):
            applied += 1
    return _result(message, InboxStatus.accepted if applied else InboxStatus.duplicate)


async def _apply(session: AsyncSession, report: Report, change: StatusChange) -> bool:
    """Record the event for the report; False when it was recorded already."""
    exists = await session.scalar(
        select(ReportEvent.id).where(
            ReportEvent.report_id == report.id, ReportEvent.event_id == change.event_id
        )
    )
    if exists is not None:
        return False
    session.add(
        ReportEvent(
            report_id=report.id,
            event_id=change.event_id,
            case_id=change.case_id,
            action=change.action,
            status=change.status,
            note=change.note,
            occurred_at=change.occurred_at,
        )
    )
    await session.flush()
    if report.last_event_id is None or change.event_id > report.last_event_id:
        report.status = change.status
        report.case_id = change.case_id
        report.case_number = change.case_number
        report.department_code = change.department_code
        report.department_name = change.department_name
        report.deadline_at = change.deadline_at
        report.last_event_id = change.event_id
        report.updated_at = utcnow()
    return True


def _result(message: InboxMessage, status: InboxStatus, detail: str | None = None) -> InboxResult:
    return InboxResult(key=message.key, status=status, detail=detail)


def _first_error(exc: ValidationError) -> str:
    error: dict[str, Any] = dict(exc.errors()[0])
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"payload.{where}: {error.get('msg', 'invalid')}"[:500]
