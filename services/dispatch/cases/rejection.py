"""Rejection, the office's command on a case that is no work order: void, or a duplicate of
another case. A duplicate's reports join the case it repeats, so their reporters follow that
one to the end."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.cases import repository, timeline
from services.dispatch.cases.lifecycle import Status, Step, next_status
from services.dispatch.cases.reading import case_detail
from services.dispatch.cases.schemas import CaseDetail, RejectRequest
from services.dispatch.cases.service import locked, touch, who
from services.dispatch.models import Case
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import Unprocessable


async def reject(
    session: AsyncSession, *, case_id: int, if_match: str | None, body: RejectRequest, actor: Actor
) -> CaseDetail:
    if body.duplicate_of is not None and body.duplicate_of < case_id:
        # Both cases are locked in id order, as an inbox batch joining both locks them.
        await repository.get(session, body.duplicate_of, for_update=True)
    case = await locked(session, case_id, if_match, actor)
    before = case.status
    target = next_status(Step.reject, before)
    if (body.reason == "duplicate") != (body.duplicate_of is not None):
        raise Unprocessable("reason 'duplicate' goes with duplicate_of (the case it repeats), and only it")
    original = None if body.duplicate_of is None else await _original(session, case, body.duplicate_of)
    now = utcnow()
    case.status = target
    case.duplicate_of = body.duplicate_of
    case.deadline_at = case.warn_at = None
    case.extension_requested_hours = None  # no work order: nothing to give more time for
    touch(case, now)
    await timeline.record(
        session,
        case,
        action=Step.reject,
        from_status=before,
        actor=who(actor),
        at=now,
        note=body.note,
        data={"reason": body.reason, "duplicate_of": body.duplicate_of},
    )
    if original is not None:
        await _move_to_original(session, case, original, actor=actor, now=now)
    return await case_detail(session, case, actor)


async def _move_to_original(
    session: AsyncSession, case: Case, original: Case, *, actor: Actor, now: datetime
) -> None:
    """The reports of a case rejected as a duplicate join the case it repeats, as reports of the
    same problem do in the inbox: their reporters, told of the rejection, then hear the original's
    number and status and follow it to the end (and may rate it). Only they are told of the merge:
    for the original's own reporters nothing changed."""
    moved = await repository.move_reports(session, case.id, original.id, now=now)
    if not moved:
        return
    case.report_count -= len(moved)
    original.report_count += len(moved)
    touch(original, now)
    await timeline.record(
        session,
        original,
        action="merged",
        from_status=original.status,
        actor=who(actor),
        at=now,
        data={"from_case": case.id, "from_case_number": case.case_number, "reports": len(moved)},
        told=moved,
    )


async def _original(session: AsyncSession, case: Case, original_id: int) -> Case:
    """The case ``case`` repeats, locked until the rejection commits: another case, open (a
    closed one takes no reports, as in the inbox), and not rejected itself when it is named (no
    case points to a rejected one as its original then, and no two cases are rejected as each
    other's duplicates, leaving nobody to handle the problem). :func:`reject` locks the two in
    id order: two such rejections at once, or one and an inbox batch joining both, wait for each
    other instead of deadlocking, and the second rejection is then a 422."""
    original = None if original_id == case.id else await repository.get(session, original_id, for_update=True)
    if original is None:
        raise Unprocessable(f"duplicate_of names no other case: {original_id}")
    if original.status == Status.rejected:
        repeats = f" as a duplicate of case {original.duplicate_of}" if original.duplicate_of else ""
        raise Unprocessable(
            f"case {original_id} was rejected itself{repeats}; duplicate_of names a case that was not"
        )
    if original.status == Status.closed:
        # Its reports would join a finished case: nobody would handle the problem seen again.
        raise Unprocessable(
            f"case {original_id} is closed: a problem seen again after it closed is a case of its own"
        )
    return original
