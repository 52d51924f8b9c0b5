"""Routes of staff and their grid assignments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from services.grid.deps import CurrentActor, SessionDep
from services.grid.regions.codes import CODE_PATTERN
from services.grid.staff import service
from services.grid.staff.rules import StaffRole
from services.grid.staff.schemas import (
    USERNAME,
    AssignmentsSet,
    StaffChanged,
    StaffCreate,
    StaffPage,
    StaffRead,
    StaffUpdate,
)
from shared.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from shared.etags import answers_etag, etag
from shared.schemas import DEFAULT_PAGE_SIZE, DEPARTMENT_CODE, MAX_PAGE_SIZE

router = APIRouter(prefix="/v1/staff", tags=["staff"])

UsernamePath = Annotated[str, Path(max_length=64, pattern=USERNAME, examples=["wang.fang"])]


@router.get("", response_model=StaffPage)
async def list_staff(
    session: SessionDep,
    role: StaffRole | None = None,
    department: Annotated[str | None, Query(max_length=32, pattern=DEPARTMENT_CODE)] = None,
    region: Annotated[
        str | None,
        Query(
            max_length=15,
            pattern=CODE_PATTERN,
            description="staff assigned to this region, to a region inside it or to one containing it",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> StaffPage:
    """Staff ordered by username.

    `region` finds who works there: for a cell, its grid workers and assistants and the
    leader of its community; for a community, its leader and the workers of its cells.
    """
    return await service.list_staff(
        session, role=role, department=department, region=region, limit=limit, cursor=cursor
    )


@router.get("/{username}", response_model=StaffRead, responses=answers_etag() | problem_responses(NotFound))
async def get_staff(session: SessionDep, username: UsernamePath, response: Response) -> StaffRead:
    """One staff member with their assigned regions; the `ETag` is what `PATCH` wants in `If-Match`."""
    staff, version = await service.get_staff(session, username=username)
    response.headers["ETag"] = etag(version)
    return staff


@router.post(
    "",
    status_code=201,
    response_model=StaffRead,
    responses=answers_etag(201) | problem_responses(Unauthorized, Conflict, Unprocessable),
)
async def create_staff(
    session: SessionDep, actor: CurrentActor, data: StaffCreate, response: Response
) -> StaffRead:
    """Add a staff member. Handlers need a department (others have none); grid workers and
    assistants may be assigned cells and grid leaders communities right away."""
    staff, version = await service.create_staff(session, data=data, actor_id=actor.id)
    response.headers["ETag"] = etag(version)
    response.headers["Location"] = f"/v1/staff/{staff.username}"
    return staff


@router.patch(
    "/{username}",
    response_model=StaffChanged,
    responses=answers_etag()
    | problem_responses(Unauthorized, NotFound, Unprocessable, PreconditionFailed, PreconditionRequired),
)
async def update_staff(
    session: SessionDep,
    actor: CurrentActor,
    username: UsernamePath,
    data: StaffUpdate,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=256)] = None,
) -> StaffChanged:
    """Change a staff member (name, phone, role, department, active); send the `ETag` as `If-Match`.

    Changing the role away from handler drops the department; the new role must fit the
    current assignments (clear them first otherwise). A change that leaves a department
    with no active handler who can sign in (the last one with a password deactivated, given
    another role or moved) goes through, and `warnings` says so: that department's cases
    would wait unseen.
    """
    staff, version = await service.update_staff(
        session, username=username, data=data, if_match=if_match, actor_id=actor.id
    )
    response.headers["ETag"] = etag(version)
    return staff


@router.put(
    "/{username}/assignments",
    response_model=StaffRead,
    responses=answers_etag() | problem_responses(Unauthorized, NotFound, Unprocessable),
)
async def set_assignments(
    session: SessionDep, actor: CurrentActor, username: UsernamePath, data: AssignmentsSet, response: Response
) -> StaffRead:
    """Replace a staff member's grid assignments: cells for grid workers and assistants,
    communities for grid leaders, none for the other roles."""
    staff, version = await service.set_assignments(session, username=username, data=data, actor_id=actor.id)
    response.headers["ETag"] = etag(version)
    return staff
