"""The figures: closure, on-time closure, rework and satisfaction rates by department."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.dispatch.access import GUARDED
from services.dispatch.deps import CurrentActor, SessionDep, SettingsDep
from services.dispatch.figures import service
from services.dispatch.figures.schemas import FiguresRead
from shared.errors import Forbidden, Unauthorized, Unprocessable, problem_responses
from shared.schemas import DEPARTMENT_CODE, Day

router = APIRouter(prefix="/v1/figures", tags=["figures"], dependencies=GUARDED)


@router.get(
    "", response_model=FiguresRead, responses=problem_responses(Unauthorized, Forbidden, Unprocessable)
)
async def read_figures(
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    since: Annotated[Day | None, Query(description="the first day (default: the month's first)")] = None,
    until: Annotated[Day | None, Query(description="the day after the last (default: tomorrow)")] = None,
    department: Annotated[
        str | None, Query(pattern=DEPARTMENT_CODE, description="only this department")
    ] = None,
) -> FiguresRead:
    """考核: the cases registered from `since` to the day before `until` (office days; at most
    366), as they stand now, by the department each is with: how many were closed, closed on
    time (every handling resolved before its deadline), reworked, are overdue, and how their
    reporters rated them, with the rates a subdistrict is judged by.

    The office, supervisors and admins see every department; a handler their own; a grid
    worker, assistant or leader the cases of their own cells or community."""
    return await service.figures(
        session, actor=actor, since=since, until=until, department=department, timezone=settings.timezone
    )
