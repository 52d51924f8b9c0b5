"""Reading cases: the console list and one case, each only inside the reader's scope.

The scope (:func:`services.dispatch.access.case_scope`) is part of every query: the list
never holds a case its reader may not see, and such a case read alone is a 404.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import access
from services.dispatch.cases import repository
from services.dispatch.cases.schemas import CaseDetail, CasePage, CaseRead, EventRead, ReportRead
from services.dispatch.models import Case
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import NotFound
from shared.schemas import RowId, Timestamp, decode_cursor, encode_cursor


class _Position(BaseModel):
    """The last case of the page before (the list runs newest first)."""

    created_at: Timestamp
    id: RowId


async def detail(session: AsyncSession, *, case_id: int, actor: Actor) -> CaseDetail:
    """The case as ``actor`` may read it; a case outside their scope is a 404 like a missing one."""
    case = await repository.get(session, case_id, scope=access.case_scope(actor))
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    return await case_detail(session, case)


async def case_detail(session: AsyncSession, case: Case) -> CaseDetail:
    """The answer to a command: the case its actor has just been allowed to change (a handler
    who returned a case no longer sees it, yet gets the result of that)."""
    return CaseDetail.model_validate(
        {
            **CaseRead.model_validate(case).model_dump(exclude={"overdue"}),
            "reports": [ReportRead.model_validate(r) for r in await repository.reports(session, case.id)],
            "timeline": [EventRead.model_validate(e) for e in await repository.timeline(session, case.id)],
        }
    )


async def list_cases(
    session: AsyncSession,
    *,
    filters: repository.CaseFilters,
    actor: Actor,
    limit: int,
    cursor: str | None,
) -> CasePage:
    after = None
    if cursor:
        position = decode_cursor(cursor, _Position)
        after = (position.created_at, position.id)
    scope = access.case_scope(actor)
    rows = await repository.page(session, filters, scope=scope, now=utcnow(), limit=limit, after=after)
    items, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(_Position(created_at=items[-1].created_at, id=items[-1].id)) if more else None
    return CasePage(items=[CaseRead.model_validate(c) for c in items], next_cursor=next_cursor)
