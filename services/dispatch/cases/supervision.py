"""The office's hold on the deadlines: urging a department (督办) and extending a deadline
(延期), which a handler may ask for. None of them moves the status."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.calendar.service import Calendar
from services.dispatch.cases import timeline
from services.dispatch.cases.lifecycle import Step, deadline, next_status
from services.dispatch.cases.reading import case_detail
from services.dispatch.cases.schemas import CaseDetail, ExtendRequest, ExtensionRequest, UrgeRequest
from services.dispatch.cases.service import locked, touch, who
from shared.actors import Actor
from shared.db import utcnow


async def urge(
    session: AsyncSession, *, case_id: int, if_match: str | None, body: UrgeRequest, actor: Actor
) -> CaseDetail:
    """督办: the office presses the department on a case it handles. It only appends, so
    If-Match may be left out, as for a note."""
    case = await locked(session, case_id, if_match, actor, appends_only=True)
    before = case.status
    next_status(Step.urge, before)
    now = utcnow()
    case.urge_count += 1
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=Step.urge,
        from_status=before,
        actor=who(actor),
        at=now,
        note=body.note,
        data={"deadline_at": case.deadline_at.isoformat() if case.deadline_at else None},
    )
    return await case_detail(session, case, actor)


async def request_extension(
    session: AsyncSession, *, case_id: int, if_match: str | None, body: ExtensionRequest, actor: Actor
) -> CaseDetail:
    """延期申请: the department asks the office for more time, saying how much and why; the
    office decides (:func:`extend`). It only appends, so If-Match may be left out."""
    case = await locked(session, case_id, if_match, actor, appends_only=True)
    before = case.status
    next_status(Step.request_extension, before)
    now = utcnow()
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=Step.request_extension,
        from_status=before,
        actor=who(actor),
        at=now,
        note=body.reason,
        data={"hours": body.hours},
    )
    return await case_detail(session, case, actor)


async def extend(
    session: AsyncSession,
    calendar: Calendar,
    *,
    case_id: int,
    if_match: str | None,
    body: ExtendRequest,
    actor: Actor,
) -> CaseDetail:
    """延期: the office moves the deadline later by ``hours``, counted as the time limit is (working
    hours for a normal category) from the deadline, or from now when it has passed. A
    resolution before the new deadline is on time. Every reporter hears the new deadline."""
    case = await locked(session, case_id, if_match, actor)
    before = case.status
    next_status(Step.extend, before)
    now = utcnow()
    old = case.deadline_at
    start = max(old, now) if old is not None else now
    case.deadline_at = deadline(start, body.hours, case.urgency, await calendar.working_time(session))
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=Step.extend,
        from_status=before,
        actor=who(actor),
        at=now,
        note=body.note,
        data={
            "hours": body.hours,
            "from_deadline_at": old.isoformat() if old else None,
            "deadline_at": case.deadline_at.isoformat(),
        },
    )
    return await case_detail(session, case, actor)
