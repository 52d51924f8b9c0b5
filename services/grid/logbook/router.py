"""Routes of the grid workers' daily log (民情日志)."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Path, Query, Response

from services.grid.deps import CurrentActor, SessionDep, SettingsDep
from services.grid.logbook import export, repository, service
from services.grid.logbook.schemas import (
    CELL_CODE,
    COMMUNITY_CODE,
    LogFiguresRead,
    MissingPage,
    PatrolLogCreate,
    PatrolLogPage,
    PatrolLogRead,
    PatrolLogUpdate,
)
from services.grid.staff.schemas import USERNAME
from shared import spreadsheet
from shared.db import utcnow
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
    problem_responses,
)
from shared.etags import answers_etag, etag
from shared.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_ROW_ID, PLAIN_DIGITS, Day

router = APIRouter(prefix="/v1/patrol-logs", tags=["patrol logs"])

LogId = Annotated[int, Path(ge=1, le=MAX_ROW_ID), PLAIN_DIGITS]
CommunityQuery = Annotated[
    str | None,
    Query(max_length=12, pattern=COMMUNITY_CODE, description="the entries of this community's cells"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(max_length=512)]


@router.get(
    "",
    response_model=PatrolLogPage,
    responses=problem_responses(Unprocessable) | {200: spreadsheet.OPENAPI},
)
async def list_logs(
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    day: Annotated[Day | None, Query(description="one office day (not with since, until)")] = None,
    since: Annotated[Day | None, Query(description="the first day")] = None,
    until: Annotated[
        Day | None, Query(description="the day after the last (at most 366 days after since)")
    ] = None,
    grid_cell: Annotated[str | None, Query(max_length=15, pattern=CELL_CODE)] = None,
    community: CommunityQuery = None,
    author: Annotated[str | None, Query(max_length=64, pattern=USERNAME, examples=["wang.fang"])] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
    format: Annotated[
        Literal["json", "csv"],
        Query(
            description="csv: the ledger (台账), every entry the filters select (all the pages, "
            f"`limit` aside; no `cursor`), a row an entry, at most {export.MAX_EXPORT_ROWS:,}"
        ),
    ] = "json",
) -> PatrolLogPage | Response:
    """The daily logs the reader may read, newest day first: a grid worker or assistant their
    own, a grid leader those of the cells in their communities, dispatchers, supervisors and
    admins every one. Days are office days; `since` alone or `until` alone leaves the other
    end open, both together span at most 366 days.

    `format=csv` answers the list as the ledger (台账) to open in Excel (UTF-8 with its
    byte-order mark): every entry its pages would hold, in their order, the entries' fields as
    columns with the cell's and the author's names beside their codes, and times in the office's
    time zone. More entries than a file takes is a 422 asking for a shorter period, never a file
    cut short; a `cursor` with it is a 422 (the file starts at the first entry)."""
    filters = repository.LogFilters(
        since=since, until=until, grid_cell=grid_cell, community=community, author=author
    )
    if format == "json":
        return await service.list_logs(
            session, actor=actor, day=day, filters=filters, limit=limit, cursor=cursor
        )
    if cursor is not None:
        raise Unprocessable("format=csv holds every page from the first: leave out the cursor")
    content = await service.export_logs(
        session, actor=actor, day=day, filters=filters, timezone=settings.timezone
    )
    return spreadsheet.attachment(
        content, spreadsheet.taken("patrol-logs", utcnow(), ZoneInfo(settings.timezone))
    )


@router.get("/missing", response_model=MissingPage, responses=problem_responses(Unprocessable))
async def missing(
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    day: Annotated[Day | None, Query(description="the office day to check (default today)")] = None,
    community: CommunityQuery = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> MissingPage:
    """The leader's daily check: every active grid worker and assistant in the reader's scope
    (a grid leader's communities; the whole subdistrict for the office) who is assigned at least
    one cell and wrote no entry on `day`, by username, with their name, phone and cells. One
    entry that day, for any of their cells, counts as logged. Assignments are as they stand now."""
    return await service.missing(
        session,
        actor=actor,
        day=day,
        community=community,
        timezone=settings.timezone,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/figures",
    response_model=LogFiguresRead,
    responses=problem_responses(Unprocessable) | {200: spreadsheet.OPENAPI},
)
async def figures(
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    since: Annotated[
        Day | None, Query(description="the first office day (default: the month's first)")
    ] = None,
    until: Annotated[
        Day | None,
        Query(description="the day after the last (default: tomorrow; at most 366 days after since)"),
    ] = None,
    community: CommunityQuery = None,
    format: Annotated[
        Literal["json", "csv"], Query(description="csv: a spreadsheet a row a person, then the total")
    ] = "json",
) -> LogFiguresRead | Response:
    """网格员考核: each grid worker's and assistant's daily logs over a period of office days,
    by default the office month so far: the days they logged (one entry, for any of their cells,
    makes a day), the entries, the households visited and the concerns heard, and the last day
    logged; the total of them all last. Everyone in the reader's scope is named, as the check
    of who has not logged names them (active, assigned at least one cell there now), one who
    logged nothing with zeros; and anyone else whose entries in the period are counted (who has
    since left, or moved to another community) with them. By username.

    A grid leader's figures count the entries of the cells in their communities, the office's
    every entry; `community` narrows them to one community's cells.

    `format=csv` answers the same figures as a CSV file to open in Excel (UTF-8 with its
    byte-order mark; `patrol-log-figures-2026-12-05-0830.csv`, named for when it was taken): a
    row a person, their cells joined by spaces, and the total last."""
    answer = await service.figures(
        session, actor=actor, since=since, until=until, community=community, timezone=settings.timezone
    )
    if format == "json":
        return answer
    return spreadsheet.attachment(
        export.figures_csv(answer),
        spreadsheet.taken("patrol-log-figures", utcnow(), ZoneInfo(settings.timezone)),
    )


@router.get(
    "/{log_id}",
    response_model=PatrolLogRead,
    responses=answers_etag() | problem_responses(NotFound),
)
async def get_log(
    session: SessionDep, actor: CurrentActor, log_id: LogId, response: Response
) -> PatrolLogRead:
    """One entry the reader may read (another is a 404); the `ETag` is what `PATCH` wants in `If-Match`."""
    entry = await service.get_log(session, log_id=log_id, actor=actor)
    response.headers["ETag"] = etag(entry.version)
    return service.read(entry)


@router.post(
    "",
    status_code=201,
    response_model=PatrolLogRead,
    responses=answers_etag(201) | problem_responses(Conflict, Forbidden, Unprocessable),
)
async def create_log(
    session: SessionDep, settings: SettingsDep, actor: CurrentActor, data: PatrolLogCreate, response: Response
) -> PatrolLogRead:
    """A grid worker or assistant writes their daily log of one of their cells (another cell is
    a 422 naming it) for today or, by `day`, yesterday. One entry per author, cell and day: a
    second is a 409 whose `log_id` and `log_url` name the first (a phone retrying a create
    whose answer it lost reads it there)."""
    entry = await service.create_log(session, data=data, actor=actor, timezone=settings.timezone)
    response.headers["ETag"] = etag(entry.version)
    response.headers["Location"] = service.url(entry.id)
    return service.read(entry)


@router.patch(
    "/{log_id}",
    response_model=PatrolLogRead,
    responses=answers_etag()
    | problem_responses(
        NotFound, Conflict, Forbidden, Unprocessable, PreconditionFailed, PreconditionRequired
    ),
)
async def update_log(
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    log_id: LogId,
    data: PatrolLogUpdate,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=256)] = None,
) -> PatrolLogRead:
    """The author corrects their entry, on its day or the next (`editable_until`); after that it
    is kept as written (409). Send the `ETag` you read as `If-Match`. Nobody else edits it."""
    entry = await service.update_log(
        session, log_id=log_id, data=data, if_match=if_match, actor=actor, timezone=settings.timezone
    )
    response.headers["ETag"] = etag(entry.version)
    return service.read(entry)
