"""Feedback, the reporters' command: a reporter rates a closed case once per closing, and an
unsatisfied rating inside the window reopens it to its department (two timeline events).
The only command open to one who sees the case only as one of its reporters.

A retry of the rating given (the same reporter, rating and comment, nothing closed since: a
bot whose answer was lost on the way) is answered with the case as it stands, and records
nothing; another rating of the same closing is a 409 saying whose it was."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.calendar.service import Calendar
from services.dispatch.cases import repository, timeline
from services.dispatch.cases.lifecycle import Step, feedback_given_since_close, feedback_reopens, next_status
from services.dispatch.cases.reading import case_detail
from services.dispatch.cases.schemas import CaseDetail, FeedbackRequest
from services.dispatch.cases.service import locked, rework, touch, who
from services.dispatch.models import CaseEvent
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import Conflict
from shared.etags import require_if_match

CLOSINGS = frozenset({Step.verify.value, Step.close.value})
"""The timeline actions that close a case: each opens a new round of feedback."""


async def feedback(
    session: AsyncSession,
    calendar: Calendar,
    *,
    case_id: int,
    if_match: str | None,
    body: FeedbackRequest,
    actor: Actor,
    window_days: float,
) -> CaseDetail:
    case = await locked(session, case_id, if_match, actor, reporters_only=True, checks_if_match=False)
    given = await _rating_given(session, case.id)
    if given is not None and (given.actor_id, given.data.get("rating"), given.note) == (
        actor.id,
        body.rating,
        body.comment,
    ):
        return await case_detail(session, case, actor)  # a retry: its first answer was lost
    require_if_match(if_match, case.version)
    before = case.status
    next_status(Step.feedback, before)
    if feedback_given_since_close(case.closed_at, case.feedback_at):
        whose = "you" if given is not None and given.actor_id == actor.id else "another reporter of this case"
        raise Conflict(f"{whose} already rated this closing: feedback is taken once per closing")
    now = utcnow()
    assert case.closed_at is not None
    reopen = feedback_reopens(body.rating, case.closed_at, now, window_days)
    case.rating, case.feedback_comment, case.feedback_at = body.rating, body.comment, now
    touch(case, now)
    data = {"rating": body.rating, "reopens": reopen}
    await timeline.record(
        session,
        case,
        action=Step.feedback,
        from_status=before,
        actor=who(actor),
        at=now,
        note=body.comment,
        data=data,
    )
    if reopen:
        next_status(Step.reopen, before)
        rework(case, now, await calendar.working_time(session))
        await timeline.record(
            session,
            case,
            action=Step.reopen,
            from_status=before,
            actor=who(actor),
            at=now,
            # Not the comment: a reopening is announced to every reporter of the case, and the
            # comment is one reporter's (the feedback event just before holds it).
            note=None,
            # charged to the department whose handling the reporter found wanting (the figures)
            data={"rating": body.rating, "department_code": case.department_code},
        )
    return await case_detail(session, case, actor)


async def _rating_given(session: AsyncSession, case_id: int) -> CaseEvent | None:
    """The case's last rating, if nothing closed the case after it: the one a retry repeats."""
    last = None
    for event in await repository.timeline(session, case_id):
        if event.action == Step.feedback.value:
            last = event
        elif event.action in CLOSINGS:
            last = None
    return last
