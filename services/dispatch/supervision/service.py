"""The office's hold on the deadlines: urging a department (督办) and extending a deadline
(延期), which a handler may ask for and the office grants or refuses. None of them moves the
status. A request waits for its answer (``extension_requested_hours``, the console's
``extension_requested`` filter); a new deadline from elsewhere (a reassignment, a rework)
answers it too, and it ends with the handling (resolved, returned, rejected)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.calendar.service import Calendar
from services.dispatch.cases import timeline
from services.dispatch.cases.idempotency import Answer, Retry, retry_of
from services.dispatch.cases.lifecycle import Step, deadline_and_warning, next_status
from services.dispatch.cases.reading import case_detail
from services.dispatch.cases.schemas import (
    CaseDetail,
    ExtendRequest,
    ExtensionRefusal,
    ExtensionRequest,
    UrgeRequest,
)
from services.dispatch.cases.service import locked, locked_to_append, touch, who
from services.dispatch.models import Case
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import Conflict


def _rfc3339(moment: datetime | None) -> str | None:
    """A time in a timeline event's data as the API writes times: UTC with ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def urge_data(deadline_at: datetime | None) -> dict[str, Any]:
    """An ``urged`` event's data, a dispatcher's or the system's: the deadline pressed for."""
    return {"deadline_at": _rfc3339(deadline_at)}


async def _case(session: AsyncSession, case_id: int, if_match: str | None, actor: Actor, step: Step) -> Case:
    """The case, locked and checked as every command's is, in a status ``step`` is taken in."""
    case = await locked(session, case_id, if_match, actor)
    next_status(step, case.status)
    return case


async def _appending(
    session: AsyncSession, case_id: int, if_match: str | None, actor: Actor, step: Step, retry: Retry | None
) -> tuple[Case, bool]:
    """As :func:`_case` for a step that only appends (If-Match may be left out), and whether
    ``retry`` repeats a step the actor took already (then nothing is checked or written)."""
    case, written = await locked_to_append(session, case_id, if_match, actor, retry)
    if not written:
        next_status(step, case.status)
    return case, written


async def _entry(
    session: AsyncSession,
    case: Case,
    step: Step,
    actor: Actor,
    *,
    note: str,
    data: dict[str, Any],
    retry: Retry | None = None,
) -> CaseDetail:
    """The step on the case's timeline (the status unchanged), and the case as ``actor`` reads it."""
    now = utcnow()
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=step,
        from_status=case.status,
        actor=who(actor),
        at=now,
        note=note,
        data=data,
        retry=retry,
    )
    return await case_detail(session, case, actor)


async def urge(
    session: AsyncSession,
    *,
    case_id: int,
    if_match: str | None,
    body: UrgeRequest,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Answer:
    """督办: the office presses the department on a case it handles. It only appends, so
    If-Match may be left out, as for a note, and an ``idempotency_key`` makes a retry harmless."""
    retry = retry_of(idempotency_key, Step.urge, body)
    case, written = await _appending(session, case_id, if_match, actor, Step.urge, retry)
    if written:
        return Answer(await case_detail(session, case, actor), replayed=True)
    case.urge_count += 1
    data = urge_data(case.deadline_at)
    return Answer(await _entry(session, case, Step.urge, actor, note=body.note, data=data, retry=retry))


async def request_extension(
    session: AsyncSession,
    *,
    case_id: int,
    if_match: str | None,
    body: ExtensionRequest,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Answer:
    """延期申请: the department asks the office for more time, saying how much and why; the
    office grants it (:func:`extend`) or refuses it (:func:`refuse_extension`), and until then
    a second request is a 409 (but a retry with the first's ``idempotency_key``). It overwrites
    nothing, so If-Match may be left out."""
    retry = retry_of(idempotency_key, Step.request_extension, body)
    case, written = await _appending(session, case_id, if_match, actor, Step.request_extension, retry)
    if written:
        return Answer(await case_detail(session, case, actor), replayed=True)
    if case.extension_requested_hours is not None:
        raise Conflict(
            f"a request for {case.extension_requested_hours} hours more awaits the office's answer",
            current_state=case.status,
        )
    case.extension_requested_hours = body.hours
    data = {"hours": body.hours}
    return Answer(
        await _entry(session, case, Step.request_extension, actor, note=body.reason, data=data, retry=retry)
    )


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
    case = await _case(session, case_id, if_match, actor, Step.extend)
    old, asked = case.deadline_at, case.extension_requested_hours
    now = utcnow()
    start = max(old, now) if old is not None else now
    working_time = await calendar.working_time(session)
    case.deadline_at, case.warn_at = deadline_and_warning(start, body.hours, case.urgency, working_time)
    case.extension_requested_hours = None
    data = {
        "hours": body.hours,
        "requested_hours": asked,
        "from_deadline_at": _rfc3339(old),
        "deadline_at": _rfc3339(case.deadline_at),
    }
    return await _entry(session, case, Step.extend, actor, note=body.note, data=data)


async def refuse_extension(
    session: AsyncSession, *, case_id: int, if_match: str | None, body: ExtensionRefusal, actor: Actor
) -> CaseDetail:
    """驳回: the office refuses the department's request for more time, saying why; the
    deadline stays, and the department may ask again."""
    case = await _case(session, case_id, if_match, actor, Step.refuse_extension)
    if case.extension_requested_hours is None:
        raise Conflict("no request for more time awaits an answer on this case", current_state=case.status)
    asked, case.extension_requested_hours = case.extension_requested_hours, None
    return await _entry(
        session, case, Step.refuse_extension, actor, note=body.note, data={"requested_hours": asked}
    )
