"""Routes of departments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from services.grid.access import sees_staffing
from services.grid.departments import service
from services.grid.departments.schemas import (
    DEPARTMENT_CODE,
    DepartmentCreate,
    DepartmentPage,
    DepartmentRead,
    DepartmentUpdate,
)
from services.grid.deps import CurrentActor, SessionDep
from shared.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
    problem_responses,
)
from shared.etags import answers_etag, etag
from shared.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

router = APIRouter(prefix="/v1/departments", tags=["departments"])

CodePath = Annotated[str, Path(max_length=32, pattern=DEPARTMENT_CODE, examples=["market-supervision"])]


@router.get("", response_model=DepartmentPage)
async def list_departments(
    session: SessionDep,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    retired: Annotated[bool, Query(description="the retired departments instead of those in use")] = False,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DepartmentPage:
    """Departments in use (or, with `retired=true`, those retired) ordered by code, each with its
    number of `active_handlers` (handlers who can sign in: active, with a password): one with 0
    has nobody to see the cases dispatched to it."""
    return await service.list_departments(
        session, retired=retired, limit=limit, cursor=cursor, counted=sees_staffing(actor)
    )


@router.get("/{code}", response_model=DepartmentRead, responses=answers_etag() | problem_responses(NotFound))
async def get_department(
    session: SessionDep, actor: CurrentActor, code: CodePath, response: Response
) -> DepartmentRead:
    """One department, a retired one too (with its `retired_at`), with its number of
    `active_handlers`; the `ETag` is what `PATCH` wants in `If-Match`."""
    department = await service.get_department(session, code=code)
    response.headers["ETag"] = etag(department.version)
    [read] = await service.reads(session, [department], counted=sees_staffing(actor))
    return read


@router.post(
    "",
    status_code=201,
    response_model=DepartmentRead,
    responses=answers_etag(201) | problem_responses(Unauthorized, Conflict),
)
async def create_department(
    session: SessionDep, actor: CurrentActor, data: DepartmentCreate, response: Response
) -> DepartmentRead:
    """Add a department; its code is permanent (cases and the catalog refer to it)."""
    department = await service.create_department(session, data=data, actor_id=actor.id)
    response.headers["ETag"] = etag(department.version)
    response.headers["Location"] = f"/v1/departments/{department.code}"
    [read] = await service.reads(session, [department])
    return read


@router.patch(
    "/{code}",
    response_model=DepartmentRead,
    responses=answers_etag()
    | problem_responses(Unauthorized, NotFound, Conflict, PreconditionFailed, PreconditionRequired),
)
async def update_department(
    session: SessionDep,
    actor: CurrentActor,
    code: CodePath,
    data: DepartmentUpdate,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=256)] = None,
) -> DepartmentRead:
    """Change a department's names or phone, or retire it; send the `ETag` you read as `If-Match`.

    `retired: true` retires a department merged into another or reorganised: it is kept (cases
    name it; `GET /v1/departments/{code}` still reads it) but no longer listed (but with
    `retired=true`), dispatched to, or given categories, routing overrides or new handlers.
    409 while a category in use or a routing override still names it (the problem's
    `categories` and `overrides`): give those another department first. `retired: false`
    brings it back.
    """
    department = await service.update_department(
        session, code=code, data=data, if_match=if_match, actor_id=actor.id
    )
    response.headers["ETag"] = etag(department.version)
    [read] = await service.reads(session, [department])
    return read
