"""The dispatch console: list and read cases, and move them through their lifecycle.

Who may call each route is :data:`services.dispatch.access.POLICY` (403 outside it); a case
outside the caller's scope is a 404. Every command takes ``If-Match`` with the case's ETag
(428 without it, 412 when stale; a note may go without) and answers with the updated case
detail and its new ``ETag`` (a dispatch or reassignment with its ``warnings`` too).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal, TypeVar
from zoneinfo import ZoneInfo

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Response

from services.dispatch.access import GUARDED
from services.dispatch.cases import dispatching, export, reading, service
from services.dispatch.cases.feedback import feedback as give_feedback
from services.dispatch.cases.filters import Filters
from services.dispatch.cases.idempotency import Answer
from services.dispatch.cases.rejection import reject as reject_case
from services.dispatch.cases.schemas import (
    AcceptRequest,
    CaseDetail,
    CaseDispatched,
    CasePage,
    CloseRequest,
    DispatchRequest,
    FeedbackRequest,
    NoteRequest,
    ReassignRequest,
    RejectRequest,
    ResolveRequest,
    ReturnRequest,
    VerifyRequest,
)
from services.dispatch.deps import (
    AppendingIfMatch,
    CalendarDep,
    CurrentActor,
    GridDep,
    IdempotencyKey,
    IfMatch,
    SessionDep,
    SettingsDep,
)
from shared import spreadsheet
from shared.db import utcnow
from shared.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    NotFound,
    PeerUnavailable,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from shared.etags import answers_etag, etag
from shared.schemas import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_ROW_ID,
    PLAIN_DIGITS,
)

CaseId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="the case's id"), PLAIN_DIGITS]

router = APIRouter(prefix="/v1/cases", tags=["cases"], dependencies=GUARDED)

COMMAND_RESPONSES = answers_etag() | problem_responses(
    Unauthorized,
    Forbidden,
    NotFound,
    IllegalTransition,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
)
REPLAYED = {
    "description": "`true` when the answer repeats an earlier try's with the same `Idempotency-Key` "
    "(nothing was written)",
    "schema": {"type": "string", "enum": ["true"]},
}
APPENDING_RESPONSES = COMMAND_RESPONSES | {
    200: {"headers": COMMAND_RESPONSES[200]["headers"] | {"Idempotent-Replayed": REPLAYED}}
}
"""The answers of a command that only appends (a note, an urging, a request for more time)."""
READ_ERRORS = problem_responses(Unauthorized, Forbidden, NotFound)
C = TypeVar("C", bound=CaseDetail)


def with_etag(response: Response, case: C) -> C:
    response.headers["ETag"] = etag(case.version)
    return case


def answered(response: Response, answer: Answer) -> CaseDetail:
    """An appending command's case with its ``ETag``, and ``Idempotent-Replayed`` on a retry's."""
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return with_etag(response, answer.case)


@router.get(
    "",
    response_model=CasePage,
    responses={200: spreadsheet.OPENAPI} | READ_ERRORS | problem_responses(Unprocessable),
)
async def list_cases(
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    filters: Filters,
    sort: Annotated[
        Literal["newest", "due"],
        Query(description="newest first, or due: the cases being handled, the soonest deadline first"),
    ] = "newest",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    format: Annotated[
        Literal["json", "csv"],
        Query(
            description="csv: every case the filters select (all the pages, `limit` aside; no `cursor`), "
            f"a row a case, at most {reading.MAX_EXPORT_ROWS:,}"
        ),
    ] = "json",
) -> CasePage | Response:
    """Cases for the console, newest first, filtered; pass ``next_cursor`` back as ``cursor``.
    With `sort=due`, only the cases a department is handling (dispatched or in progress), the
    soonest deadline first: the overdue at the top, then what falls due next.

    Only the cases the caller may see: the whole subdistrict for dispatchers, supervisors and
    admins; a handler's department's; a grid worker's cells' and those they reported on.

    `format=csv` answers the list as a CSV file to open in Excel (UTF-8 with its byte-order
    mark): every case its pages would hold, in their order, a row a case, the items' fields as
    columns and times in the office's time zone with their offset. A list of more cases than a
    file takes (`format` says how many) is a 422 asking for narrower filters, never a file cut
    short; a `cursor` with it is a 422 (the file starts at the first case)."""
    filters = replace(filters, due_first=sort == "due")
    if format == "json":
        return await reading.list_cases(session, filters=filters, actor=actor, limit=limit, cursor=cursor)
    if cursor is not None:
        raise Unprocessable("format=csv holds every page from the first: leave out the cursor")
    cases = await reading.every_case(session, filters=filters, actor=actor)
    zone = ZoneInfo(settings.timezone)
    # off the event loop: 10,000 cases take about 0.3 s to write; reports are served meanwhile
    content = await anyio.to_thread.run_sync(export.cases_csv, cases, zone)
    return spreadsheet.attachment(content, spreadsheet.taken("cases", utcnow(), zone))


@router.get("/{case_id}", response_model=CaseDetail, responses=answers_etag() | READ_ERRORS)
async def read_case(
    case_id: CaseId, session: SessionDep, actor: CurrentActor, response: Response
) -> CaseDetail:
    """One case with its reports and full timeline (oldest first); the ``ETag`` to send back.

    A case outside the caller's scope is a 404, as if it did not exist."""
    return with_etag(response, await reading.detail(session, case_id=case_id, actor=actor))


@router.post(
    "/{case_id}/dispatch",
    response_model=CaseDispatched,
    responses=COMMAND_RESPONSES | problem_responses(PeerUnavailable),
)
async def dispatch(
    case_id: CaseId,
    body: DispatchRequest,
    session: SessionDep,
    grid: GridDep,
    calendar: CalendarDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDispatched:
    """派遣: send a case in triage to a department (names and time limit come from grid).

    The deadline is the category's time limit from now (24 hours without a category): working
    hours on the working calendar for a normal category, round the clock for an urgent or
    critical one (`GET /v1/calendar/{year}`). A department or a `category_code` grid does not
    know, or has retired, is a 422 (a case whose own category was retired since its report may
    be dispatched with it). A department with no active handler who can sign in takes the case
    all the same, and `warnings` says nobody there will see it until grid's admin staffs it.
    """
    case = await dispatching.dispatch(
        session, grid, calendar, case_id=case_id, if_match=if_match, body=body, actor=actor
    )
    return with_etag(response, case)


@router.post("/{case_id}/accept", response_model=CaseDetail, responses=COMMAND_RESPONSES)
async def accept(
    case_id: CaseId,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    body: AcceptRequest | None = None,
    if_match: IfMatch = None,
) -> CaseDetail:
    """The department takes a dispatched case in hand (dispatched → in_progress); body optional."""
    case = await service.accept(session, case_id=case_id, if_match=if_match, body=body, actor=actor)
    return with_etag(response, case)


@router.post("/{case_id}/return", response_model=CaseDetail, responses=COMMAND_RESPONSES)
async def return_case(
    case_id: CaseId,
    body: ReturnRequest,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDetail:
    """退回: the department hands the case back to triage, with its reason; the deadline is cleared."""
    case = await service.return_case(session, case_id=case_id, if_match=if_match, body=body, actor=actor)
    return with_etag(response, case)


@router.post("/{case_id}/resolve", response_model=CaseDetail, responses=COMMAND_RESPONSES)
async def resolve(
    case_id: CaseId,
    body: ResolveRequest,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDetail:
    """处置完成: the department reports the problem handled, with a note and photos."""
    case = await service.resolve(session, case_id=case_id, if_match=if_match, body=body, actor=actor)
    return with_etag(response, case)


@router.post("/{case_id}/verify", response_model=CaseDetail, responses=COMMAND_RESPONSES)
async def verify(
    case_id: CaseId,
    body: VerifyRequest,
    session: SessionDep,
    calendar: CalendarDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDetail:
    """核查: on-site check of a resolved case. Passed closes it (结案); failed sends it back to the
    same department as rework with a new deadline (a note saying what is wrong is required)."""
    case = await service.verify(session, calendar, case_id=case_id, if_match=if_match, body=body, actor=actor)
    return with_etag(response, case)


@router.post(
    "/{case_id}/reassign",
    response_model=CaseDispatched,
    responses=COMMAND_RESPONSES | problem_responses(PeerUnavailable),
)
async def reassign(
    case_id: CaseId,
    body: ReassignRequest,
    session: SessionDep,
    grid: GridDep,
    calendar: CalendarDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDispatched:
    """改派: send a dispatched or in-progress case to another department (→ dispatched).

    The new department must accept it again; the deadline is the category's time limit from
    now, counted as on dispatch. Reassigning to the department it is with, or to one grid does
    not know or has retired, is a 422; to one with no active handler who can sign in, it goes
    through with `warnings`, as a dispatch does."""
    case = await dispatching.reassign(
        session, grid, calendar, case_id=case_id, if_match=if_match, body=body, actor=actor
    )
    return with_etag(response, case)


@router.post("/{case_id}/close", response_model=CaseDetail, responses=COMMAND_RESPONSES)
async def close(
    case_id: CaseId,
    body: CloseRequest,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDetail:
    """结案: the back office closes a resolved case without an on-site check (resolved → closed).

    The note saying why is required; the reporter may then give feedback as after a verification."""
    case = await service.close(session, case_id=case_id, if_match=if_match, body=body, actor=actor)
    return with_etag(response, case)


@router.post("/{case_id}/reject", response_model=CaseDetail, responses=COMMAND_RESPONSES)
async def reject(
    case_id: CaseId,
    body: RejectRequest,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDetail:
    """Reject a case in triage or dispatched: ``void`` (not a problem) or ``duplicate`` (of another case)."""
    case = await reject_case(session, case_id=case_id, if_match=if_match, body=body, actor=actor)
    return with_etag(response, case)


@router.post(
    "/{case_id}/feedback",
    response_model=CaseDetail,
    responses=COMMAND_RESPONSES | problem_responses(Conflict),
)
async def feedback(
    case_id: CaseId,
    body: FeedbackRequest,
    session: SessionDep,
    calendar: CalendarDep,
    settings: SettingsDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDetail:
    """评价: the reporter's rating of a closed case, once per closing. A rating of 1 or 2 within
    ``feedback_window_days`` of closing reopens it as rework; later it is only recorded.

    Only someone who filed one of the case's reports may rate it. Anyone else gets a 404 for a
    case outside their scope (as if it did not exist, like every route) and a 403 for one they
    see without having reported on it (the office, its handlers, a grid worker of its cell)."""
    case = await give_feedback(
        session,
        calendar,
        case_id=case_id,
        if_match=if_match,
        body=body,
        actor=actor,
        window_days=settings.feedback_window_days,
    )
    return with_etag(response, case)


@router.post("/{case_id}/notes", response_model=CaseDetail, responses=APPENDING_RESPONSES)
async def add_note(
    case_id: CaseId,
    body: NoteRequest,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: AppendingIfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> CaseDetail:
    """Add a note (and photos) to the timeline in any status; the status does not change.

    With `to_reporters: true` the case's reporters hear it too, as they hear a status change
    (a grid worker's or a reporter's own note only on the reports she filed); otherwise the
    note is the office's, on the timeline alone.

    `If-Match` is optional here: a note changes nothing another could have changed meanwhile,
    so a note written while a dispatcher moved the case is not refused (sent, it is checked).
    A phone that may send it twice (its answer lost) sends an `Idempotency-Key`: the same key
    from the same person on this case again answers the case as it stands, with
    `Idempotent-Replayed: true`, and writes nothing (another note with that key is a 422)."""
    answer = await service.add_note(
        session, case_id=case_id, if_match=if_match, body=body, actor=actor, idempotency_key=idempotency_key
    )
    return answered(response, answer)
