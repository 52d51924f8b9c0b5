"""Routes of the responsibility catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from services.grid.catalog import service
from services.grid.catalog.schemas import (
    CategoryCreate,
    CategoryPage,
    CategoryRead,
    CategoryUpdate,
)
from services.grid.deps import CurrentActor, SessionDep
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
from shared.schemas import CATEGORY_CODE, DEFAULT_PAGE_SIZE, DEPARTMENT_CODE, MAX_PAGE_SIZE, STORABLE_QUERY

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])

CodePath = Annotated[str, Path(max_length=8, pattern=CATEGORY_CODE, examples=["0501"])]


@router.get("", response_model=CategoryPage)
async def list_categories(
    session: SessionDep,
    class_name: Annotated[
        str | None,
        Query(alias="class", max_length=64, description="major class, in Chinese or English"),
        STORABLE_QUERY,
    ] = None,
    department: Annotated[str | None, Query(max_length=32, pattern=DEPARTMENT_CODE)] = None,
    retired: Annotated[bool, Query(description="the retired categories instead of those in use")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> CategoryPage:
    """Catalog categories in use (or, with `retired=true`, those retired) ordered by code,
    optionally of one major class or one department: what the app offers a reporter."""
    return await service.list_categories(
        session, class_name=class_name, department=department, retired=retired, limit=limit, cursor=cursor
    )


@router.get("/{code}", response_model=CategoryRead, responses=answers_etag() | problem_responses(NotFound))
async def get_category(session: SessionDep, code: CodePath, response: Response) -> CategoryRead:
    """One category: its department (null: a dispatcher decides), urgency and time limit; a
    retired one too, with its `retired_at`."""
    category = await service.get_category(session, code=code)
    response.headers["ETag"] = etag(category.version)
    return CategoryRead.model_validate(category)


@router.post(
    "",
    status_code=201,
    response_model=CategoryRead,
    responses=answers_etag(201) | problem_responses(Unauthorized, Conflict, Unprocessable),
)
async def create_category(
    session: SessionDep, actor: CurrentActor, data: CategoryCreate, response: Response
) -> CategoryRead:
    """Add a category; its code is permanent (reports and cases carry it)."""
    category = await service.create_category(session, data=data, actor_id=actor.id)
    response.headers["ETag"] = etag(category.version)
    response.headers["Location"] = f"/v1/catalog/{category.code}"
    return CategoryRead.model_validate(category)


@router.patch(
    "/{code}",
    response_model=CategoryRead,
    responses=answers_etag()
    | problem_responses(Unauthorized, NotFound, Unprocessable, PreconditionFailed, PreconditionRequired),
)
async def update_category(
    session: SessionDep,
    actor: CurrentActor,
    code: CodePath,
    data: CategoryUpdate,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=256)] = None,
) -> CategoryRead:
    """Change a category, or retire it; send the `ETag` you read as `If-Match`.

    `retired: true` retires a category a revision of the catalog drops or merges: it is kept
    (reports and cases carry its code; `GET /v1/catalog/{code}` still reads it) but no longer
    listed (but with `retired=true`) or routed: a report naming it waits in triage for a
    dispatcher, as one naming a code the catalog does not hold. `retired: false` brings it back
    (422 while its department is retired: name another in the same change). A department given
    here must be one in use (422).
    """
    category = await service.update_category(
        session, code=code, data=data, if_match=if_match, actor_id=actor.id
    )
    response.headers["ETag"] = etag(category.version)
    return CategoryRead.model_validate(category)
