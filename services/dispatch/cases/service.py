"""Moving cases through their lifecycle (the console's commands).

Every command fetches the case through the actor's scope
(:func:`services.dispatch.access.case_scope`): a case outside it is a 404. It locks
the case row (``FOR UPDATE`` on PostgreSQL), checks ``If-Match`` against its version, asks
:mod:`lifecycle` whether the move is legal, then changes the case, bumps its version and
appends one timeline event naming the verified actor. The reporters' command, feedback, is
in :mod:`feedback`, sending a case to a department (dispatch, reassign) in :mod:`dispatching`;
they take the same steps with :func:`locked`, :func:`touch` and :func:`who`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import access
from services.dispatch.calendar.service import Calendar
from services.dispatch.calendar.working_time import WorkingTime
from services.dispatch.cases import repository, timeline
from services.dispatch.cases.idempotency import Answer, Retry, already_written, retry_of
from services.dispatch.cases.lifecycle import (
    Status,
    Step,
    deadline_and_warning,
    is_overdue,
    next_status,
    verify_step,
)
from services.dispatch.cases.reading import case_detail
from services.dispatch.cases.schemas import (
    AcceptRequest,
    CaseDetail,
    CloseRequest,
    NoteRequest,
    ResolveRequest,
    ReturnRequest,
    VerifyRequest,
)
from services.dispatch.models import Case
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.etags import require_if_match


def assign(
    case: Case,
    *,
    department_code: str,
    department_name: str,
    time_limit_hours: int | None,
    now: datetime,
    working_time: WorkingTime,
) -> None:
    """Put a case in a department's hands with a fresh deadline (dispatch, auto-dispatch, rework):
    its time limit from now, on ``working_time`` unless its urgency counts round the clock."""
    case.status = Status.dispatched
    case.department_code = department_code
    case.department_name = department_name
    case.dispatched_at = now
    case.deadline_at, case.warn_at = deadline_and_warning(now, time_limit_hours, case.urgency, working_time)
    case.extension_requested_hours = None  # asked of the deadline this replaces


async def locked(
    session: AsyncSession,
    case_id: int,
    if_match: str | None,
    actor: Actor,
    *,
    reporters_only: bool = False,
    appends_only: bool = False,
    checks_if_match: bool = True,
) -> Case:
    """The case, locked: 404 outside the actor's scope, then 403 for one who filed no report on
    it (``reporters_only``: feedback) or who sees it only as one of its reporters (every other
    command: a grid worker verifies and notes the cases of their own cells), then 428/412 for a
    missing or stale ``If-Match``. A command that only appends to the timeline (a note:
    ``appends_only``) overwrites nothing another could have changed meanwhile: it checks
    ``If-Match`` when one is sent, and needs none (an empty one is none: not a 428 asking for
    what the command does not need). ``checks_if_match=False`` leaves the check to the command
    (feedback: a retry of the rating given is answered before it)."""
    case = await repository.get(session, case_id, for_update=True, scope=access.case_scope(actor))
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    if reporters_only and not await repository.has_report_by(session, case.id, actor.id):
        raise Forbidden("only a reporter of this case may rate it")
    if not reporters_only and not access.sees_whole_case(actor, case):
        raise Forbidden("this case reaches you as one of its reporters: rating it is yours, not this")
    if checks_if_match:
        check_if_match(if_match, case, appends_only=appends_only)
    return case


async def locked_to_append(
    session: AsyncSession, case_id: int, if_match: str | None, actor: Actor, retry: Retry | None
) -> tuple[Case, bool]:
    """The case, locked, for a command that only appends (``appends_only``), and whether
    ``retry`` repeats an event the actor wrote on it already (``cases/idempotency.py``): then
    the command writes nothing, and ``If-Match`` is not checked (the first try moved the
    version on)."""
    case = await locked(session, case_id, if_match, actor, appends_only=True, checks_if_match=False)
    if await already_written(session, case, actor.id, retry):
        return case, True
    check_if_match(if_match, case, appends_only=True)
    return case, False


def check_if_match(if_match: str | None, case: Case, *, appends_only: bool) -> None:
    """428/412 for a missing or stale ``If-Match``; a command that only appends checks one only
    when it is sent (see :func:`locked`)."""
    if (if_match is not None and if_match.strip()) or not appends_only:
        require_if_match(if_match, case.version)


def touch(case: Case, now: datetime) -> None:
    case.version += 1
    case.updated_at = now


def who(actor: Actor) -> tuple[str, str]:
    return actor.id, actor.role.value


def closing(case: Case, now: datetime) -> None:
    """The case closes: a rating it holds was of an earlier closing (one an unsatisfied rating
    undid; the timeline keeps it), and the figures count none of this one until it is rated."""
    case.closed_at = now
    case.rating, case.feedback_comment, case.feedback_at = None, None, None


def rework(case: Case, now: datetime, working_time: WorkingTime) -> None:
    if case.department_code is None or case.department_name is None:  # pragma: no cover - dispatched before
        raise Conflict("the case has no department to send the rework to")
    assign(
        case,
        department_code=case.department_code,
        department_name=case.department_name,
        time_limit_hours=case.time_limit_hours,
        now=now,
        working_time=working_time,
    )
    case.rework_count += 1
    case.resolved_at = None
    case.closed_at = None


async def accept(
    session: AsyncSession, *, case_id: int, if_match: str | None, body: AcceptRequest | None, actor: Actor
) -> CaseDetail:
    case = await locked(session, case_id, if_match, actor)
    before = case.status
    case.status = next_status(Step.accept, before)
    now = utcnow()
    touch(case, now)
    note = body.note if body else None
    await timeline.record(
        session, case, action=Step.accept, from_status=before, actor=who(actor), at=now, note=note
    )
    return await case_detail(session, case, actor)


async def return_case(
    session: AsyncSession, *, case_id: int, if_match: str | None, body: ReturnRequest, actor: Actor
) -> CaseDetail:
    case = await locked(session, case_id, if_match, actor)
    before, department = case.status, case.department_code
    case.status = next_status(Step.return_, before)
    case.department_code = case.department_name = None
    case.dispatched_at = case.deadline_at = case.warn_at = None
    case.extension_requested_hours = None  # the department asked for time it no longer has
    now = utcnow()
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=Step.return_,
        from_status=before,
        actor=who(actor),
        at=now,
        note=body.reason,
        data={"department_code": department},
    )
    return await case_detail(session, case, actor)


async def resolve(
    session: AsyncSession, *, case_id: int, if_match: str | None, body: ResolveRequest, actor: Actor
) -> CaseDetail:
    case = await locked(session, case_id, if_match, actor)
    before = case.status
    case.status = next_status(Step.resolve, before)
    now = utcnow()
    case.resolved_at = now
    case.extension_requested_hours = None  # handled: the time asked for is not needed
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=Step.resolve,
        from_status=before,
        actor=who(actor),
        at=now,
        note=body.note,
        photos=body.photos,
        # the figures' on-time closure: each handling judged against its deadline then, and
        # charged to the department that handled it
        data={
            "on_time": not is_overdue(before, case.deadline_at, now),
            "department_code": case.department_code,
        },
    )
    return await case_detail(session, case, actor)


async def verify(
    session: AsyncSession,
    calendar: Calendar,
    *,
    case_id: int,
    if_match: str | None,
    body: VerifyRequest,
    actor: Actor,
) -> CaseDetail:
    case = await locked(session, case_id, if_match, actor)
    before, step = case.status, verify_step(body.passed)
    next_status(step, before)
    if not body.passed and not body.note:
        raise Unprocessable("say what is still wrong: a failed verification needs a note")
    now = utcnow()
    if body.passed:
        case.status = Status.closed
        closing(case, now)
    else:
        rework(case, now, await calendar.working_time(session))
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=step,
        from_status=before,
        actor=who(actor),
        at=now,
        note=body.note,
        photos=body.photos,
        # a rework is charged to the department whose handling failed the check (the figures)
        data={"passed": body.passed} | ({} if body.passed else {"department_code": case.department_code}),
    )
    return await case_detail(session, case, actor)


async def close(
    session: AsyncSession, *, case_id: int, if_match: str | None, body: CloseRequest, actor: Actor
) -> CaseDetail:
    case = await locked(session, case_id, if_match, actor)
    before = case.status
    case.status = next_status(Step.close, before)
    now = utcnow()
    closing(case, now)
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=Step.close,
        from_status=before,
        actor=who(actor),
        at=now,
        note=body.note,
        data={"verified_on_site": False},
    )
    return await case_detail(session, case, actor)


async def add_note(
    session: AsyncSession,
    *,
    case_id: int,
    if_match: str | None,
    body: NoteRequest,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Answer:
    retry = retry_of(idempotency_key, Step.note, body)
    case, written = await locked_to_append(session, case_id, if_match, actor, retry)
    if written:
        return Answer(await case_detail(session, case, actor), replayed=True)
    now = utcnow()
    next_status(Step.note, case.status)
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=Step.note,
        from_status=case.status,
        actor=who(actor),
        at=now,
        note=body.note,
        photos=body.photos,
        announced=body.to_reporters,
        retry=retry,
    )
    return Answer(await case_detail(session, case, actor))
