"""The console's map: the cases as GeoJSON points (RFC 7946), for a map of the subdistrict.

A path of its own beside the list (``GET /v1/cases/map``), not a ``format`` of it: it takes the
list's filters and scopes, but not its order, pages or CSV's bound, it adds the map's view
(``bbox``), and without a ``status`` it shows the open cases rather than every case ever; as a
``format`` of the list each of those would hold for one value of it and not the others.

Bounded, and never a 422 for it: a map the dispatcher zooms out on should still show the
subdistrict. Past :data:`MAX_FEATURES` it holds the most pressing cases (the overdue, then the
due soon, then the newest), says ``truncated: true`` and how many matched (``total``), and the
console asks to zoom in. A file cut short passes for the whole; a map that says so does not,
and the cases it leaves out are the least pressing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import access
from services.dispatch.access import GUARDED
from services.dispatch.cases import repository
from services.dispatch.cases.filters import Filters
from services.dispatch.cases.lifecycle import FINISHED, Status, is_due_soon, is_overdue
from services.dispatch.deps import CurrentActor, SessionDep
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import Forbidden, Unauthorized, Unprocessable, problem_responses
from shared.schemas import PLAIN_DECIMAL

MAX_FEATURES = 5_000
"""The most cases one map answer holds: about 2.3 MB of GeoJSON, more points than a map of a
subdistrict shows apart; past it the answer is the most pressing and ``truncated``."""

OPEN = tuple(s.value for s in Status if s not in FINISHED)
"""What the map shows without a ``status`` filter: the cases not closed nor rejected."""

GEO_JSON = "application/geo+json"

router = APIRouter(prefix="/v1/cases", tags=["cases"], dependencies=GUARDED)


class CaseProperties(BaseModel):
    case_number: str = Field(examples=["WG20261127-0007"])
    status: Status
    category_code: str | None
    category_name: str | None
    urgency: str
    department_code: str | None
    department_name: str | None
    overdue: bool = Field(description="past the deadline while dispatched or in progress: red")
    due_soon: bool = Field(description="预警: 80 % of the time limit gone, not the deadline: yellow")
    urge_count: int
    report_count: int
    created_at: datetime
    deadline_at: datetime | None


class Point(BaseModel):
    type: Literal["Point"]
    coordinates: tuple[float, float] = Field(description="[longitude, latitude], WGS 84 (RFC 7946)")


class CaseFeature(BaseModel):
    type: Literal["Feature"]
    id: int = Field(description="the case's id: `GET /v1/cases/{id}`")
    geometry: Point
    properties: CaseProperties


class CaseMap(BaseModel):
    """A GeoJSON FeatureCollection, a point a case."""

    type: Literal["FeatureCollection"]
    features: list[CaseFeature]
    truncated: bool = Field(
        description=f"more cases matched than the {MAX_FEATURES:,} a map holds: these are the most "
        "pressing (overdue, due soon, newest); zoom in or narrow the filters to see the rest"
    )
    total: int = Field(description="how many cases matched, shown or not")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "id": 7,
                            "geometry": {"type": "Point", "coordinates": [118.0745, 24.4525]},
                            "properties": {
                                "case_number": "WG20261127-0007",
                                "status": "dispatched",
                                "category_code": "0501",
                                "category_name": "占道经营",
                                "urgency": "urgent",
                                "department_code": "market-supervision",
                                "department_name": "工商所",
                                "overdue": True,
                                "due_soon": False,
                                "urge_count": 1,
                                "report_count": 2,
                                "created_at": "2026-11-27T01:12:09Z",
                                "deadline_at": "2026-11-27T03:12:09Z",
                            },
                        }
                    ],
                    "truncated": False,
                    "total": 1,
                }
            ]
        }
    )


class GeoJSONResponse(JSONResponse):
    """GeoJSON already serialized (a JSONResponse for OpenAPI, which then documents the model)."""

    media_type = GEO_JSON

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


BOX_PARTS = ("minlon", "minlat", "maxlon", "maxlat")


def parse_box(text: str) -> repository.Box:
    """``minlon,minlat,maxlon,maxlat`` in degrees, or a 422 naming what is wrong with it. A box
    across the antimeridian (minlon > maxlon, which RFC 7946 allows) is refused like any other
    minimum past its maximum: no subdistrict lies across it."""
    parts = text.split(",")
    if len(parts) != len(BOX_PARTS):
        raise Unprocessable(f"bbox is minlon,minlat,maxlon,maxlat: four numbers, not {len(parts)}")
    values: dict[str, float] = {}
    for name, part in zip(BOX_PARTS, parts, strict=True):
        try:
            value = float(part)
        except ValueError:
            raise Unprocessable(f"bbox's {name} is not a number: {part.strip()!r}") from None
        if not math.isfinite(value):
            raise Unprocessable(f"bbox's {name} is not a finite number: {part.strip()!r}")
        if not PLAIN_DECIMAL.fullmatch(part.strip()):
            raise Unprocessable(f"bbox's {name} is not a number: {part.strip()!r}")
        limit = 180 if name.endswith("lon") else 90
        if not -limit <= value <= limit:
            raise Unprocessable(f"bbox's {name} {value:g} is outside -{limit}..{limit}")
        values[name] = value
    for axis in ("lon", "lat"):
        low, high = values[f"min{axis}"], values[f"max{axis}"]
        if low > high:
            raise Unprocessable(f"bbox's min{axis} {low:g} is greater than its max{axis} {high:g}")
    return repository.Box(values["minlon"], values["minlat"], values["maxlon"], values["maxlat"])


async def case_map(
    session: AsyncSession,
    *,
    filters: repository.CaseFilters,
    box: repository.Box | None,
    actor: Actor,
) -> bytes:
    """The map's cases as ``actor`` may see them (the list's scope, and a case that reaches
    them only as its reporter at their report's point, as the list shows it), as GeoJSON."""
    if not filters.statuses:
        filters = replace(filters, statuses=list(OPEN))
    reporter_of = (access.whole_case_scope(actor), actor.id) if access.reaches_as_reporter(actor) else None
    now = utcnow()
    rows, total = await repository.on_map(
        session,
        filters,
        scope=access.case_scope(actor),
        now=now,
        box=box,
        limit=MAX_FEATURES,
        as_reporter=reporter_of,
    )
    return geojson(rows, total=total, now=now)


def geojson(rows: Sequence[tuple[Any, ...]], *, total: int, now: datetime) -> bytes:
    """The rows of :func:`repository.on_map` as a FeatureCollection; ``overdue`` and
    ``due_soon`` as the list's items compute them."""
    features: list[dict[str, Any]] = []
    for row in rows:
        (
            case_id, case_number, status, category_code, category_name, urgency, department_code,
            department_name, urge_count, report_count, created_at, deadline_at, warn_at, lat, lon,
        ) = row  # fmt: skip
        properties = {
            "case_number": case_number,
            "status": status,
            "category_code": category_code,
            "category_name": category_name,
            "urgency": urgency,
            "department_code": department_code,
            "department_name": department_name,
            "overdue": is_overdue(status, deadline_at, now),
            "due_soon": is_due_soon(status, warn_at, deadline_at, now),
            "urge_count": urge_count,
            "report_count": report_count,
            "created_at": created_at,
            "deadline_at": deadline_at,
        }
        point = {"type": "Point", "coordinates": [lon, lat]}
        features.append({"type": "Feature", "id": case_id, "geometry": point, "properties": properties})
    collection = {
        "type": "FeatureCollection",
        "features": features,
        "truncated": total > len(features),
        "total": total,
    }
    return orjson.dumps(collection, option=orjson.OPT_UTC_Z)


@router.get(
    "/map",
    response_model=CaseMap,
    response_class=GeoJSONResponse,
    responses=problem_responses(Unauthorized, Forbidden, Unprocessable),
)
async def map_cases(
    session: SessionDep,
    actor: CurrentActor,
    filters: Filters,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            description="the map's view: minlon,minlat,maxlon,maxlat in degrees (WGS 84)",
            examples=["118.070,24.449,118.080,24.458"],
        ),
    ] = None,
) -> Response:
    """The cases on a map: a GeoJSON FeatureCollection (`application/geo+json`), a point a case
    at `[lon, lat]`, its id the case's, with what a map colours and labels it by (`overdue` red,
    `due_soon` yellow, the status).

    The list's filters and the same reader's scope (a handler sees their department's cases, a
    grid worker their cells' and those they reported on, at their report's point), and `bbox`,
    the map's view. Without `status`, the open cases: not closed, not rejected.

    At most 5,000 cases: past that, the most pressing (the overdue, then the due soon, then the
    newest) with `truncated: true` and the `total` that matched; zoom in or narrow the filters."""
    box = parse_box(bbox) if bbox is not None else None
    content = await case_map(session, filters=filters, box=box, actor=actor)
    return GeoJSONResponse(content)
