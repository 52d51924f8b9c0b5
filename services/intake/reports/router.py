"""Reports from the grid workers' app: submit one, read one, list one's own."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response

from services.intake.access import GUARDED
from services.intake.deps import CurrentActor, ReceptionDep, SessionDep
from services.intake.reports import service
from services.intake.reports.schemas import ReportCreate, ReportPage, ReportRead
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from shared.etags import answers_etag, not_modified
from shared.schemas import CANONICAL_UUID, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=GUARDED)


@router.post(
    "",
    status_code=201,
    response_model=ReportRead,
    summary="Submit a report",
    responses=problem_responses(Unauthorized, Forbidden, Conflict, Unprocessable, ServiceUnavailable),
)
async def create_report(
    body: ReportCreate,
    actor: CurrentActor,
    reception: ReceptionDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=128,
            description="retry key; the report id serves when absent",
            examples=["0b6f2c3e-8d2a-4a43-9d57-0e6f1c7c1a01"],
        ),
    ] = None,
) -> Response:
    """Take a report from a reporter's phone and pass it on to the back office.

    The client generates the report id, so a retry names the same report. A retry with the
    same `Idempotency-Key` (or, without one, the same report id) and the same body gets the
    first answer again and creates nothing; the same key with another body is a 422, and a
    report id already taken under another key a 409. `seen_at` may be at most 30 days old and
    not in the future. The report's grid cell comes from intake's copy of the territory;
    while that is not loaded yet the report is accepted with `located: false`.

    Grid workers, assistants and leaders, and integrations whose key has `reports:create`
    (the report's channel is the key's); the caller is the report's reporter.
    """
    answer = await service.create_report(reception, body=body, actor=actor, idempotency_key=idempotency_key)
    headers = {"Location": f"/v1/reports/{answer.report_id}"}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(orjson.dumps(answer.body), answer.status, headers, media_type="application/json")


@router.get(
    "",
    response_model=ReportPage,
    summary="List my reports",
    responses=problem_responses(Unauthorized, Forbidden, Unprocessable),
)
async def list_reports(
    session: SessionDep,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ReportPage:
    """The caller's own reports (and nobody else's), newest first; pass `next_cursor` back as
    `cursor` for more. Grid staff, and integrations whose key has `reports:read`.
    """
    return await service.list_reports(session, actor=actor, limit=limit, cursor=cursor)


REPORT_ETAG = "the report as answered, hashed: send it back as `If-None-Match` to get a 304 while unchanged"


@router.get(
    "/{report_id}",
    response_model=ReportRead,
    summary="Read a report",
    responses={
        **answers_etag(200, description=REPORT_ETAG),
        304: {"description": "Unchanged since the ETag in If-None-Match", **answers_etag(304)[304]},
        **problem_responses(Unauthorized, Forbidden, NotFound),
    },
)
async def get_report(
    report_id: Annotated[uuid.UUID, Path(), CANONICAL_UUID],
    session: SessionDep,
    actor: CurrentActor,
    if_none_match: Annotated[str | None, Header(max_length=512)] = None,
) -> Response:
    """What happened to a report: its status, case number, department, deadline, grid cell and
    the updates it heard, oldest first. Shown to its reporter, to grid staff whose cells hold
    it, to the handlers of the department it went to, and to dispatchers, supervisors and
    admins; an integration (`reports:read`) sees only its own. Any other report is a 404.

    The `ETag` changes whenever anything in the answer does: a phone that polls sends it back
    as `If-None-Match` and gets a bodiless 304 until the report hears something new.
    """
    report = await service.get_report(session, report_id=report_id, actor=actor)
    body = orjson.dumps(report.model_dump(mode="json"))
    tag = f'"{hashlib.sha256(body).hexdigest()[:24]}"'
    if not_modified(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type="application/json", headers={"ETag": tag})
