"""Routes of routing: overrides per region, and resolving where a report goes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.grid.deps import CurrentActor, SessionDep
from services.grid.regions.codes import CODE_PATTERN
from services.grid.routing import service
from services.grid.routing.schemas import (
    OverrideCreate,
    OverridePage,
    OverrideRead,
    Resolution,
    RouteAnswer,
    RouteAnswers,
    RouteQuestions,
)
from shared.errors import Conflict, NotFound, Unauthorized, Unprocessable, problem_responses
from shared.schemas import CATEGORY_CODE, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_ROW_ID, PLAIN_DIGITS

router = APIRouter(prefix="/v1/routing", tags=["routing"])

RegionQuery = Annotated[str | None, Query(max_length=15, pattern=CODE_PATTERN, examples=["35020300100101"])]
CategoryQuery = Annotated[str, Query(max_length=8, pattern=CATEGORY_CODE, examples=["0501"])]


@router.get("/resolve", response_model=Resolution, responses=problem_responses(NotFound))
async def resolve(session: SessionDep, category: CategoryQuery, cell: RegionQuery = None) -> Resolution:
    """Which department a report of `category` in `cell` goes to.

    The override on the nearest region of the cell's lineage (cell, community, subdistrict,
    district) wins (`source: override`); else the catalog's department (`catalog`); when the
    catalog names none, `department` is null and `source` is `none`: a dispatcher decides.
    404 when the category or the given cell is unknown, or the category retired.
    """
    return await service.resolve(session, category_code=category, cell_code=cell)


@router.post(
    "/resolutions",
    response_model=RouteAnswers,
    responses=problem_responses(Unprocessable),
    summary="Resolve many routing questions at once",
)
async def resolve_many(session: SessionDep, body: RouteQuestions) -> RouteAnswers:
    """`GET /resolve` for up to 500 (category, cell) questions in one request, as dispatch asks
    them for a batch of reports. One answer per question, in order: its `resolution`, or, for
    an unknown (or retired) category or an unknown cell, `unknown` saying which (the 404 of a
    single resolve).
    """
    questions = [(q.category, q.cell) for q in body.questions]
    answers = await service.resolve_many(session, questions)
    return RouteAnswers(
        answers=[
            RouteAnswer(
                category=category,
                cell=cell,
                resolution=None if isinstance(answer, str) else answer,
                unknown=answer if isinstance(answer, str) else None,
            )
            for (category, cell), answer in zip(questions, answers, strict=True)
        ]
    )


@router.get("/overrides", response_model=OverridePage)
async def list_overrides(
    session: SessionDep,
    region: RegionQuery = None,
    category: Annotated[str | None, Query(max_length=8, pattern=CATEGORY_CODE)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> OverridePage:
    """Routing overrides, oldest first, optionally of one region (exactly) or one category."""
    return await service.list_overrides(session, region=region, category=category, limit=limit, cursor=cursor)


@router.post(
    "/overrides",
    status_code=201,
    response_model=OverrideRead,
    responses=problem_responses(Unauthorized, NotFound, Conflict, Unprocessable),
)
async def create_override(
    session: SessionDep, actor: CurrentActor, data: OverrideCreate, response: Response
) -> OverrideRead:
    """Send `category_code` in `region_code` (and the regions below it) to `department_code`.

    One override per region and category: 409 when the pair has one already.
    """
    override = await service.create_override(session, data=data, actor_id=actor.id)
    response.headers["Location"] = f"/v1/routing/overrides/{override.id}"
    return OverrideRead.model_validate(override)


OverrideId = Annotated[int, Path(ge=1, le=MAX_ROW_ID), PLAIN_DIGITS]


@router.get(
    "/overrides/{override_id}",
    response_model=OverrideRead,
    responses=problem_responses(Unauthorized, NotFound),
)
async def get_override(session: SessionDep, override_id: OverrideId) -> OverrideRead:
    """One override: where its `Location` points."""
    return OverrideRead.model_validate(await service.get_override(session, override_id=override_id))


@router.delete(
    "/overrides/{override_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(Unauthorized, NotFound),
)
async def delete_override(session: SessionDep, actor: CurrentActor, override_id: OverrideId) -> Response:
    """Remove an override; the category falls back to the next override up, or the catalog."""
    await service.delete_override(session, override_id=override_id, actor_id=actor.id)
    return Response(status_code=204)
