"""The figures: closure, on-time closure, rework and satisfaction rates by department, category,
community or grid cell."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.dispatch.access import GUARDED
from services.dispatch.deps import CurrentActor, GridDep, SessionDep, SettingsDep
from services.dispatch.figures import export, service
from services.dispatch.figures.repository import Grouping
from services.dispatch.figures.schemas import FiguresRead, GroupedFiguresRead
from shared import spreadsheet
from shared.errors import Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses
from shared.schemas import DEPARTMENT_CODE, Day

router = APIRouter(prefix="/v1/figures", tags=["figures"], dependencies=GUARDED)


@router.get(
    "",
    response_model=FiguresRead | GroupedFiguresRead,
    responses={
        200: spreadsheet.OPENAPI,
        **problem_responses(Unauthorized, Forbidden, NotFound, Unprocessable),
    },
)
async def read_figures(
    session: SessionDep,
    grid: GridDep,
    settings: SettingsDep,
    actor: CurrentActor,
    since: Annotated[Day | None, Query(description="the first day (default: the month's first)")] = None,
    until: Annotated[Day | None, Query(description="the day after the last (default: tomorrow)")] = None,
    department: Annotated[
        str | None, Query(pattern=DEPARTMENT_CODE, description="only this department")
    ] = None,
    by: Annotated[
        Grouping,
        Query(
            description="group the cases by the department each is with, its category, community or grid cell"
        ),
    ] = "department",
    format: Annotated[
        Literal["json", "csv"],
        Query(description="csv: a spreadsheet a row a department (a group), then the total"),
    ] = "json",
) -> FiguresRead | GroupedFiguresRead | Response:
    """考核: the cases registered from `since` to the day before `until` (office days; at most
    366), as they stand now, by the department each is with: how many were closed, closed on
    time (every handling resolved before its deadline), reworked, are overdue, and how their
    reporters rated them, with the rates a subdistrict is judged by. Every department is
    named, one with no case with zeros (and no rates); the cases with no department (triage,
    rejected from it) come last. A `department` grid does not know, with no case, is a 404.

    `by=category`, `community` or `grid_cell` groups the same cases by what the problem was and
    where (热点): `groups` instead of `departments`, each with its `key` (the category's code, the
    community's or the cell's) and `name` (a category's, as the cases have it; a community's or
    a cell's as grid names it, a retired one too, kept a minute, `null` while grid is out of
    reach or for a code it does not know), only the groups with cases, the most cases first,
    then by key, the cases with none (no category, outside the grid) last. Each case counts as
    it does by department (on time and reworked of the department it is with). With
    `department`, that department's cases only: what it mostly handles.

    The office, supervisors and admins see every department; a handler their own; a grid
    worker, assistant or leader the cases of their own cells or community.

    `format=csv` answers the same figures as a CSV file to open in Excel (UTF-8 with its
    byte-order mark), a row a department (a group: `key`, `name`; 未分类, 无社区 or 无网格 for the
    cases with none) and the total last."""
    figures = await service.figures(
        session,
        grid,
        actor=actor,
        since=since,
        until=until,
        department=department,
        timezone=settings.timezone,
        by=by,
    )
    if format == "csv":
        return spreadsheet.attachment(export.figures_csv(figures), export.filename(figures))
    return figures
