"""Routes that answer from the territory as a whole: locate, and the cell export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from services.grid.deps import SessionDep, TerritoryDep
from services.grid.errors import OutsideTerritory
from services.grid.territory import service
from services.grid.territory.schemas import Location, TerritoryCells
from shared.errors import problem_responses
from shared.etags import answers_etag, not_modified

router = APIRouter(prefix="/v1", tags=["territory"])
CELLS_ETAG = answers_etag(
    200, 304, description="the territory version, quoted: send it back as `If-None-Match`"
)


@router.get("/locate", response_model=Location, responses=problem_responses(OutsideTerritory))
async def locate(
    session: SessionDep,
    index: TerritoryDep,
    lat: Annotated[float, Query(ge=-90, le=90, examples=[24.4545])],
    lon: Annotated[float, Query(ge=-180, le=180, examples=[118.0745])],
) -> Location:
    """The grid cell holding a WGS 84 point, with its community, subdistrict and district.

    A point on a border between cells goes to the smaller code. Outside every cell: 404
    with problem type `outside-territory`. Answers from an in-memory index that follows the
    territory version within a couple of seconds of an import.
    """
    return await service.locate(session, index=index, lat=lat, lon=lon)


@router.get(
    "/territory/cells",
    response_model=TerritoryCells,
    responses={
        **CELLS_ETAG,
        304: {"description": "Unchanged since the version named in If-None-Match", **CELLS_ETAG[304]},
    },
)
async def territory_cells(
    session: SessionDep,
    response: Response,
    if_none_match: Annotated[str | None, Header(max_length=256)] = None,
) -> TerritoryCells | Response:
    """Every grid cell with its geometry and community, for peers that locate on their own.

    The `ETag` is the territory version in quotes; send it back as `If-None-Match` to get a
    bodiless 304 while the territory is unchanged.
    """
    version = await service.territory_version(session)
    if not_modified(if_none_match, f'"{version}"'):
        return Response(status_code=304, headers={"ETag": f'"{version}"'})
    cells = await service.territory_cells(session)
    response.headers["ETag"] = f'"{cells.version}"'
    return cells
