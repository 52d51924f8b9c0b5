"""Open311 GeoReport v2 (JSON): the services, filing a request, following it."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response
from pydantic import BeforeValidator

from services.intake.access import OPEN311_GUARD, Open311Actor
from services.intake.deps import ReceptionDep, SessionDep, public_url
from services.intake.open311 import service
from services.intake.open311.schemas import (
    Open311Error,
    RequestCreated,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from services.intake.open311.service import Services
from shared.errors import BadRequest, UnsupportedMediaType
from shared.schemas import CANONICAL_UUID, CATEGORY_CODE, STORABLE_QUERY, Timestamp

OPEN311_PATH = "/open311/v2"
FORM = "application/x-www-form-urlencoded"

_UNENCODED_PLUS = re.compile(r"(?P<time>[0-9-]+T[0-9:.]+) (?P<offset>[0-9]{2}:[0-9]{2})")
_NO_SECONDS = re.compile(r"(?P<minute>[0-9-]+T[0-9]{2}:[0-9]{2})(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})")


def _w3c(value: object) -> object:
    """GeoReport v2's dates are W3C's, as clients write them: minutes without seconds
    (``2026-12-06T08:00+08:00``) and a ``+`` left unencoded in the query, which arrives as a
    space (``2026-12-06T08:00:00 08:00``). Either is taken as RFC 3339 says it."""
    if isinstance(value, str):
        if found := _UNENCODED_PLUS.fullmatch(value):
            value = f"{found['time']}+{found['offset']}"
        if found := _NO_SECONDS.fullmatch(value):
            value = f"{found['minute']}:00{found['offset']}"
    return value


W3CTime = Annotated[Timestamp, BeforeValidator(_w3c)]


async def accepted_and_unused(
    jurisdiction_id: Annotated[
        str | None, Query(max_length=64, description="one jurisdiction: unused")
    ] = None,
    api_key: Annotated[
        str | None,
        Query(
            max_length=256,
            description="the integration's key, where no Bearer token is sent (in a URL it reaches "
            "proxies' access logs: a POST's form is the better place)",
        ),
    ] = None,
) -> None:
    """What every Open311 client may send in its query (``api_key`` is read by the guard)."""


async def get_services(request: Request) -> Services:
    services: Services = request.state.open311
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

ERRORS = {
    status: {"model": list[Open311Error], "description": description}
    for status, description in (
        (400, "the request is not one Open311 takes; `description` says why"),
        (401, "no token, or a bad one"),
        (403, "the caller may not do this"),
        (404, "no such service or request (or not the caller's)"),
        (503, "grid, which holds the catalog, is out of reach"),
    )
}
router = APIRouter(
    prefix=OPEN311_PATH,
    tags=["open311"],
    dependencies=[Depends(OPEN311_GUARD), Depends(accepted_and_unused)],
    responses=ERRORS,  # type: ignore[arg-type]
)


@router.get("/services.json", response_model=list[Service], summary="Open311: the services")
async def list_services(services: ServicesDep) -> list[Service]:
    """Every category of the catalog, as a service a request may be for."""
    return await services.listed()


@router.get(
    "/services/{service_code}.json",
    response_model=ServiceDefinition,
    summary="Open311: a service's definition",
)
async def get_service(
    service_code: Annotated[str, Path(max_length=8, pattern=CATEGORY_CODE)], services: ServicesDep
) -> ServiceDefinition:
    """No service has attributes: the definition names none."""
    return await services.definition(service_code)


@router.post(
    "/requests.json",
    status_code=201,
    response_model=list[RequestCreated],
    summary="Open311: file a service request",
    responses={
        415: {
            "model": list[Open311Error],
            "description": f"the body is not a form ({FORM}, as GeoReport v2 says)",
        }
    },
    response_description="the request, filed; a retry with its `Idempotency-Key` is answered the same, "
    "with `Idempotent-Replayed: true`",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                FORM: {
                    "schema": {
                        "type": "object",
                        "required": ["service_code", "lat", "long"],
                        "properties": {
                            name: {"type": "string"} for name in (*service.KEPT, *service.IGNORED)
                        },
                    }
                }
            },
        }
    },
)
async def create_request(
    request: Request,
    actor: Open311Actor,
    reception: ReceptionDep,
    services: ServicesDep,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=128, description="retry key: the same key answers the same request"),
    ] = None,
) -> Response:
    """A form (`application/x-www-form-urlencoded`, as GeoReport v2 says): `service_code`,
    `lat` and `long` (required), `address_string`, `description` (the service's name when
    none), `media_url` (a photo, e.g. one uploaded to `POST /v1/photos`). The person's
    name, e-mail and phone, `device_id`, `account_id`, `address_id` and `jurisdiction_id`
    are taken and not kept; any other field is a 400. The request is a report like
    one from the app, and goes to dispatch at once: `service_request_id` is its id.

    Grid staff, and integrations whose key has `reports:create`: the key as the form's
    `api_key` (GeoReport v2's way), or a Bearer token.
    """
    # Read here, not declared as a header parameter: OpenAPI says the request body's media
    # types name it (and a client generator made an argument of it).
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise UnsupportedMediaType(f"send the request as {FORM}, as GeoReport v2 says")
    form = service.parse_form(await request.body())
    created, report_id, replayed = await service.create_request(
        reception, services, form=form, actor=actor, idempotency_key=idempotency_key
    )
    headers = {"Location": f"{OPEN311_PATH}/requests/{report_id}.json"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(orjson.dumps([created.model_dump()]), 201, headers, media_type="application/json")


@router.get("/requests.json", response_model=list[ServiceRequest], summary="Open311: the caller's requests")
async def list_requests(
    session: SessionDep,
    actor: Open311Actor,
    services: ServicesDep,
    service_request_id: Annotated[
        str | None,
        Query(
            max_length=3800,
            description="comma-separated ids (at most 100): these and no others, the other filters ignored",
        ),
    ] = None,
    service_code: Annotated[
        str | None,
        Query(max_length=900, description="comma-separated codes (at most 100): of these services"),
    ] = None,
    start_date: Annotated[
        W3CTime | None, Query(description="received at or after (W3C date and time, with its offset)")
    ] = None,
    end_date: Annotated[
        W3CTime | None, Query(description="received at or before (W3C date and time, with its offset)")
    ] = None,
    status: Annotated[
        str | None, Query(max_length=20, description="open, closed, or both comma-separated"), STORABLE_QUERY
    ] = None,
) -> list[ServiceRequest]:
    """The caller's own requests (and reports), newest first, at most 1,000: those named by
    id (whatever the other filters say, as GeoReport v2 has it), or those received in the
    period, by default the last 90 days, of the services (one code, or several
    comma-separated) and the status when given. `status` is `closed` once the case closed or
    was rejected."""
    ids = _ids(service_request_id)
    codes = _codes(service_code)
    statuses = frozenset(part.strip() for part in status.split(",")) if status else frozenset()
    if statuses - {"open", "closed"}:
        raise BadRequest("status is open, closed, or both (open,closed)")
    if not ids and start_date is not None and end_date is not None and end_date < start_date:
        raise BadRequest("end_date comes before start_date: the period runs from start_date to end_date")
    return await service.list_requests(
        session,
        services,
        actor=actor,
        ids=ids,
        service_codes=codes,
        start=start_date,
        end=end_date,
        statuses=statuses,
    )


@router.get(
    "/requests/{service_request_id}.json", response_model=list[ServiceRequest], summary="Open311: one request"
)
async def get_request(
    service_request_id: Annotated[uuid.UUID, Path(), CANONICAL_UUID],
    session: SessionDep,
    actor: Open311Actor,
    services: ServicesDep,
) -> list[ServiceRequest]:
    """The request, in a list of one as GeoReport v2 answers it: shown to whom its report is."""
    return [await service.get_request(session, services, report_id=service_request_id, actor=actor)]


def _codes(given: str | None) -> list[str]:
    """GeoReport v2's ``service_code`` filter: one code, or several comma-delimited."""
    parts = [part.strip() for part in (given or "").split(",") if part.strip()]
    if len(parts) > 100:
        raise BadRequest("service_code names at most 100 services")
    if not all(re.fullmatch(CATEGORY_CODE, part) for part in parts):
        raise BadRequest("service_code holds codes of services, comma-separated")
    return parts


discovery_router = APIRouter(tags=["open311"])
"""Open311's service discovery: public, as a client reads it before it has a key."""

CHANGESET = "2026-12-06T09:30:00Z"
"""When the endpoint last changed in a way a client would care for (the api_key taken)."""


@discovery_router.get("/open311/discovery.json", summary="Open311: service discovery")
async def discovery(request: Request) -> dict[str, Any]:
    """Where the GeoReport v2 endpoint is and in what form it answers (no token needed: a
    client reads this before it has one)."""
    base = public_url(request)
    return {
        "changeset": CHANGESET,
        "contact": "the office's administrators issue integration keys (wangge key create)",
        "key_service": "an admin of the office: wangge key create --name <the client> --channel open311 "
        "--scope reports:create reports:read (or POST /v1/keys on grid); send it as api_key",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": f"{base}{OPEN311_PATH}",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json"],
            }
        ],
    }


def _ids(given: str | None) -> list[uuid.UUID]:
    if not given:
        return []
    parts = [part.strip() for part in given.split(",") if part.strip()]
    if len(parts) > 100:
        raise BadRequest("service_request_id names at most 100 requests")
    try:
        return [uuid.UUID(part) for part in parts]
    except ValueError:
        raise BadRequest("service_request_id holds ids of requests (UUIDs), comma-separated") from None
