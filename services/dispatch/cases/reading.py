"""Reading cases: the console list and one case, each only inside the reader's scope.

The scope (:func:`services.dispatch.access.case_scope`) is part of every query: the list
never holds a case its reader may not see, and such a case read alone is a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import access
from services.dispatch.cases import repository
from services.dispatch.cases.lifecycle import Step
from services.dispatch.cases.schemas import CaseDetail, CasePage, CaseRead, EventRead, ReportRead
from services.dispatch.models import Case, CaseReport
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import NotFound, Unprocessable
from shared.schemas import RowId, Timestamp, decode_cursor, encode_cursor


class _Position(BaseModel):
    """The last case of the page before (the list runs newest first)."""

    created_at: Timestamp
    id: RowId


class _DuePosition(BaseModel):
    """The last case of the page before in the due list (soonest deadline first): a cursor of
    the other order lacks ``deadline_at`` and is refused."""

    deadline_at: Timestamp
    id: RowId


async def detail(session: AsyncSession, *, case_id: int, actor: Actor) -> CaseDetail:
    """The case as ``actor`` may read it; a case outside their scope is a 404 like a missing one."""
    case = await repository.get(session, case_id, scope=access.case_scope(actor))
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    return await case_detail(session, case, actor)


def as_reported_by(case: CaseDetail, reader: str) -> CaseDetail:
    """The case as one of its reporters reads it when that is their only way in: their own
    reports, the case as they reported it (:func:`_as_reported`), and the other reporters'
    events without who they are or what they wrote (note, photos, ``data``), leaving out those
    that are only what they wrote (another reporter's feedback, a grid worker's notes).
    Statuses, times, departments and the notes of the office, the handlers and the system
    stay: they are what the reporter waits to hear; so does the case's rating when it is
    theirs. A reader with no report on it (a handler
    answered after returning the case) gets it whole."""
    own = [report for report in case.reports if report.reporter_id == reader]
    if not own:
        return case

    def event(entry: EventRead) -> EventRead | None:
        if entry.actor_id == reader or entry.actor_role in access.NAMED_TO_REPORTERS:
            return entry
        if entry.action in _THEIRS_ALONE:
            return None
        return entry.model_copy(
            update={"actor_id": None, "actor_role": None, "note": None, "photos": [], "data": {}}
        )

    opened = bool(case.reports) and case.reports[0].reporter_id == reader
    # the case's feedback is the last rating of its closing: theirs, they read it back
    rated = next((e for e in reversed(case.timeline) if e.action == Step.feedback.value), None)
    changes = _as_reported(
        None if opened else own[0], own_rating=rated is not None and rated.actor_id == reader
    )
    timeline = [shown for shown in map(event, case.timeline) if shown is not None]
    return case.model_copy(update={**changes, "reports": own, "timeline": timeline})


_THEIRS_ALONE = frozenset({Step.note.value, Step.feedback.value})
"""Another reporter's events that are nothing but what they wrote (a note, a rating): left
out for a reporter-only reader, where they would be rows with nothing in them."""


def _as_reported(first: ReportRead | CaseReport | None, *, own_rating: bool) -> dict[str, object]:
    """A case's own fields as a reporter-only reader sees them: its description, point and time
    from their first report when another reporter's opened the case (``first``), and no
    feedback but their own (``own_rating``: the case's rating is the reader's)."""
    changes: dict[str, object] = (
        {} if own_rating else {"rating": None, "feedback_comment": None, "feedback_at": None}
    )
    if first is not None:
        changes |= {
            "description": first.description,
            "lat": first.lat,
            "lon": first.lon,
            "address": first.address,
            "reported_at": first.seen_at,
        }
    return changes


async def case_detail(session: AsyncSession, case: Case, actor: Actor) -> CaseDetail:
    """The case as ``actor`` reads it, and the answer to their command on it (a handler who
    returned a case no longer sees it, yet gets the result of that); a reporter who sees it
    only as such reads it :func:`as_reported_by` them."""
    whole = CaseDetail.model_validate(
        {
            **CaseRead.model_validate(case).model_dump(exclude={"overdue"}),
            "reports": [ReportRead.model_validate(r) for r in await repository.reports(session, case.id)],
            "timeline": [EventRead.model_validate(e) for e in await repository.timeline(session, case.id)],
        }
    )
    return whole if access.sees_whole_case(actor, case) else as_reported_by(whole, actor.id)


P = TypeVar("P", bound=BaseModel)


def _decode(cursor: str, position: type[P], *, other: tuple[type[BaseModel], str]) -> P:
    """The cursor's position; a cursor of the list in the other order is refused saying so (it
    was "not one this service issued", which it was)."""
    try:
        return decode_cursor(cursor, position)
    except Unprocessable:
        kind, sort = other
        try:
            decode_cursor(cursor, kind)
        except Unprocessable:
            raise
        raise Unprocessable(
            f"cursor is one of the list with sort={sort}: pass it with that sort, or start again without it"
        ) from None


async def list_cases(
    session: AsyncSession,
    *,
    filters: repository.CaseFilters,
    actor: Actor,
    limit: int,
    cursor: str | None,
) -> CasePage:
    after = None
    if cursor and filters.due_first:
        due = _decode(cursor, _DuePosition, other=(_Position, "newest"))
        after = (due.deadline_at, due.id)
    elif cursor:
        position = _decode(cursor, _Position, other=(_DuePosition, "due"))
        after = (position.created_at, position.id)
    items, more = await _listed(session, filters, actor=actor, limit=limit, after=after)
    next_cursor = None
    if more and filters.due_first:
        assert items[-1].deadline_at is not None  # the due list holds only cases with a deadline
        next_cursor = encode_cursor(_DuePosition(deadline_at=items[-1].deadline_at, id=items[-1].id))
    elif more:
        next_cursor = encode_cursor(_Position(created_at=items[-1].created_at, id=items[-1].id))
    return CasePage(items=items, next_cursor=next_cursor)


MAX_EXPORT_ROWS = 10_000
"""The most cases the list gives as one CSV file (``format=csv``), built in memory: 10,000 took
about half a second in process on PostgreSQL. A list of more is refused, never cut short."""


async def every_case(
    session: AsyncSession, *, filters: repository.CaseFilters, actor: Actor
) -> list[CaseRead]:
    """Every case of the list, in its order: what its pages hold one after the other, read at
    once (one query, one snapshot); more than :data:`MAX_EXPORT_ROWS` is a 422 asking for
    narrower filters."""
    items, more = await _listed(session, filters, actor=actor, limit=MAX_EXPORT_ROWS, after=None)
    if more:
        raise Unprocessable(
            f"the list holds more than {MAX_EXPORT_ROWS:,} cases, the most one CSV file takes: "
            "narrow it with the filters (status, department, category, grid_cell, community, q …) "
            "and export each part"
        )
    return items


async def _listed(
    session: AsyncSession,
    filters: repository.CaseFilters,
    *,
    actor: Actor,
    limit: int,
    after: tuple[datetime, int] | None,
) -> tuple[list[CaseRead], bool]:
    """Up to ``limit`` cases of the list after ``after``, as ``actor`` reads them, and whether
    more follow."""
    scope = access.case_scope(actor)
    reporter_of = (access.whole_case_scope(actor), actor.id) if access.reaches_as_reporter(actor) else None
    rows = await repository.page(
        session, filters, scope=scope, now=utcnow(), limit=limit, after=after, as_reporter=reporter_of
    )
    items, more = rows[:limit], len(rows) > limit
    page = [CaseRead.model_validate(c) for c in items]
    as_reporter = [case.id for case in items if not access.sees_whole_case(actor, case)]
    if as_reporter:
        firsts = await repository.first_reports_by(session, as_reporter, actor.id)
        rated = [case.id for case in page if case.id in firsts and case.rating is not None]
        theirs = {i for i, rater in (await repository.raters(session, rated)).items() if rater == actor.id}
        page = [
            case.model_copy(
                update=_as_reported(
                    None if firsts[case.id][1] else firsts[case.id][0], own_rating=case.id in theirs
                )
            )
            if case.id in firsts
            else case
            for case in page
        ]
    return page, more
