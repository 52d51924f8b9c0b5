"""Routes of the region tree."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from services.grid.deps import CurrentActor, SessionDep
from services.grid.errors import TerritoryRejected
from services.grid.regions import service
from services.grid.regions.codes import CODE_PATTERN, Level
from services.grid.regions.schemas import ImportSummary, RegionDetail, RegionPage
from shared.errors import NotFound, Unauthorized, Unprocessable, problem_responses
from shared.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

router = APIRouter(prefix="/v1/regions", tags=["regions"])

CodePath = Annotated[str, Path(max_length=15, pattern=CODE_PATTERN, examples=["350203001001"])]

IMPORT_EXAMPLE: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "35020300100101", "name": "镇海社区第1网格", "name_en": "Zhenhai grid 1"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [118.07, 24.449],
                        [118.074, 24.449],
                        [118.074, 24.452],
                        [118.07, 24.452],
                        [118.07, 24.449],
                    ]
                ],
            },
        }
    ],
}


@router.post(
    "/import",
    response_model=ImportSummary,
    responses=problem_responses(Unauthorized, TerritoryRejected),
)
async def import_regions(
    session: SessionDep,
    actor: CurrentActor,
    data: Annotated[dict[str, Any], Body(examples=[IMPORT_EXAMPLE])],
) -> ImportSummary:
    """Import a GeoJSON FeatureCollection of regions (properties `code`, `name`, optional `name_en`).

    Regions are upserted by code; parents must be stored already or come in the same file.
    A re-division names the regions it replaces in the collection's `retire` member (a list of
    at most 10,000 codes; `features` may then be empty): each is retired with everything under
    it, in the same transaction, and the new cells may overlap them. A retired region is kept
    (cases, routing rules and people still name it; `GET /v1/regions/{code}` shows
    `retired_at`) but is no longer located, sent to intake, listed (but with `retired=true`)
    or assignable; importing its code again brings it back. The summary names the active
    staff still assigned to a region it retired.

    The import is all-or-nothing: any invalid GeoJSON or geometry, bad code, missing (or
    retired) parent, coordinates out of range, overlap between cells in use, or a `retire`
    code not stored refuses the whole file with a 422 problem whose `errors` list names each
    feature (`code`) and its `problem` (of overlapping cells, the first 100 pairs and then
    that there are more). An import that creates, changes or retires a region bumps the
    territory version, which `locate` and `/v1/territory/cells` follow; regions stored exactly
    as the file has them count `unchanged`. GeoJSON foreign members other than `retire` are
    ignored, so unknown fields are not refused here.
    """
    return await service.import_feature_collection(session, data=data, actor_id=actor.id)


@router.get("", response_model=RegionPage, responses=problem_responses(Unprocessable))
async def list_regions(
    session: SessionDep,
    level: Annotated[Level | None, Query(description="only regions of this level")] = None,
    parent: Annotated[
        str | None, Query(max_length=15, pattern=CODE_PATTERN, description="only the children of this region")
    ] = None,
    retired: Annotated[bool, Query(description="the retired regions instead of those in use")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> RegionPage:
    """Regions in use (or, with `retired=true`, those retired) ordered by code, without their geometry."""
    return await service.list_regions(
        session, level=level, parent=parent, retired=retired, limit=limit, cursor=cursor
    )


@router.get("/{code}", response_model=RegionDetail, responses=problem_responses(NotFound))
async def get_region(session: SessionDep, code: CodePath) -> RegionDetail:
    """One region with its geometry, its ancestors up to the district and its children's codes
    (those in use); a retired region too, with its `retired_at`."""
    return await service.get_region(session, code=code)
