"""The office's hold on the deadlines of the cases its departments handle: urging (督办),
a handler's request for more time, and the office's extension or refusal (延期). None moves a
case's status; each answers the updated case with its new ``ETag``, like the case commands."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.dispatch.access import GUARDED
from services.dispatch.cases.router import APPENDING_RESPONSES, COMMAND_RESPONSES, CaseId, answered, with_etag
from services.dispatch.cases.schemas import (
    CaseDetail,
    ExtendRequest,
    ExtensionRefusal,
    ExtensionRequest,
    UrgeRequest,
)
from services.dispatch.deps import (
    AppendingIfMatch,
    CalendarDep,
    CurrentActor,
    IdempotencyKey,
    IfMatch,
    SessionDep,
)
from services.dispatch.supervision import service

router = APIRouter(prefix="/v1/cases", tags=["cases"], dependencies=GUARDED)


@router.post("/{case_id}/urge", response_model=CaseDetail, responses=APPENDING_RESPONSES)
async def urge(
    case_id: CaseId,
    body: UrgeRequest,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: AppendingIfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> CaseDetail:
    """督办: the office presses the department on a case it is handling (dispatched or in
    progress), with what it asks; the status stays, the case counts one more urging
    (`urge_count`, the console's `urged` filter) and the timeline holds who urged and why.

    `If-Match` is optional, as for a note: urging overwrites nothing another could have changed.
    An `Idempotency-Key` makes a retry harmless, as for a note."""
    answer = await service.urge(
        session, case_id=case_id, if_match=if_match, body=body, actor=actor, idempotency_key=idempotency_key
    )
    return answered(response, answer)


@router.post("/{case_id}/extension-request", response_model=CaseDetail, responses=APPENDING_RESPONSES)
async def request_extension(
    case_id: CaseId,
    body: ExtensionRequest,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: AppendingIfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> CaseDetail:
    """延期申请: the department handling the case asks the office for more time (`hours`, counted
    as the time limit is) and says why; the office grants it with `extend`, or not. The
    deadline stays until then, and a second request while one waits is a 409, but a retry with
    the first's `Idempotency-Key`, answered as for a note. `If-Match` is optional, as for a note."""
    answer = await service.request_extension(
        session, case_id=case_id, if_match=if_match, body=body, actor=actor, idempotency_key=idempotency_key
    )
    return answered(response, answer)


@router.post("/{case_id}/extension-refusal", response_model=CaseDetail, responses=COMMAND_RESPONSES)
async def refuse_extension(
    case_id: CaseId,
    body: ExtensionRefusal,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDetail:
    """驳回: the office refuses the department's waiting request for more time, with a note
    saying why (409 when none waits); the deadline stays and the department may ask again."""
    case = await service.refuse_extension(session, case_id=case_id, if_match=if_match, body=body, actor=actor)
    return with_etag(response, case)


@router.post("/{case_id}/extend", response_model=CaseDetail, responses=COMMAND_RESPONSES)
async def extend(
    case_id: CaseId,
    body: ExtendRequest,
    session: SessionDep,
    calendar: CalendarDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CaseDetail:
    """延期: the office moves a handled case's deadline later by `hours`, counted as the time
    limit is (working hours on the working calendar for a normal category), from the deadline,
    or from now when it has passed; with a note saying why. A resolution before the new
    deadline counts as on time, and every reporter hears the new deadline."""
    case = await service.extend(session, calendar, case_id=case_id, if_match=if_match, body=body, actor=actor)
    return with_etag(response, case)
