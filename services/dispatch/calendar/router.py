"""The working calendar: the holidays and make-up working days deadlines count on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.dispatch.access import GUARDED
from services.dispatch.calendar import service
from services.dispatch.calendar.schemas import CalendarYearRead, CalendarYearWrite
from services.dispatch.deps import CalendarDep, CurrentActor, IfMatch, SessionDep, SettingsDep
from shared.errors import (
    Forbidden,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from shared.etags import answers_etag, etag
from shared.schemas import PLAIN_DIGITS

router = APIRouter(prefix="/v1/calendar", tags=["calendar"], dependencies=GUARDED)

Year = Annotated[int, Path(ge=2000, le=2100, description="the calendar year"), PLAIN_DIGITS]


@router.get(
    "/{year}",
    response_model=CalendarYearRead,
    responses=answers_etag() | problem_responses(Unauthorized, Forbidden, Unprocessable),
)
async def read_year(
    year: Year, session: SessionDep, settings: SettingsDep, response: Response
) -> CalendarYearRead:
    """The year's working calendar: its holidays and make-up working days (调休), and the
    settings' working hours and weekdays. A normal category's time limit counts working hours
    on the working days; urgent and critical ones count round the clock. A year never set
    has no days and version 0. Staff."""
    answer = await service.read_year(session, settings, year)
    response.headers["ETag"] = etag(answer.version)
    return answer


@router.put(
    "/{year}",
    response_model=CalendarYearRead,
    responses=answers_etag()
    | problem_responses(Unauthorized, Forbidden, PreconditionFailed, PreconditionRequired, Unprocessable),
)
async def set_year(
    year: Year,
    body: CalendarYearWrite,
    session: SessionDep,
    calendar: CalendarDep,
    settings: SettingsDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CalendarYearRead:
    """Set the year's holidays and make-up working days, replacing those set before, as the
    State Council's notice lists them. `If-Match` is the ETag read (`"0"` for a year never
    set). Cases dispatched from now on count the new days; deadlines already given stay.
    Admins."""
    answer = await service.set_year(
        session, calendar, settings, number=year, body=body, if_match=if_match, actor=actor
    )
    response.headers["ETag"] = etag(answer.version)
    return answer
