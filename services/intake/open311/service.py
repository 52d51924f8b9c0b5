"""Open311 GeoReport v2 over intake's reports: a city's existing Open311 client (an app, a
12345 hotline's system) files and follows reports without learning wangge's own API.

A service is a category of grid's catalog; a service request is a report, filed and told of
exactly as one from the app is (``reports/service.py``), with the caller as its reporter and
its channel the integration's. What Open311 has and a report has not is taken and not kept:
the person's name, e-mail and phone (the integration answers its own users), ``device_id``,
``account_id`` and ``jurisdiction_id`` (intake serves one subdistrict). A request is located
by ``lat`` and ``long``; an address alone is refused, since nothing here geocodes it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.clients.grid import Category, GridClient
from services.intake.open311 import repository
from services.intake.open311.keys import check_form_size
from services.intake.open311.schemas import RequestCreated, Service, ServiceDefinition, ServiceRequest
from services.intake.reports import rules
from services.intake.reports import service as reports
from services.intake.reports.schemas import ReportCreate
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import BadRequest, NotFound, PeerUnavailable, WanggeError
from shared.schemas import PLAIN_DECIMAL

log = logging.getLogger("wangge.intake.open311")

CLOSED_STATUSES = frozenset({"closed", "rejected"})
"""The report statuses Open311 calls ``closed``; every other is ``open``."""
KEPT = ("service_code", "lat", "long", "address_string", "description", "media_url")
IGNORED = (
    "api_key",
    "jurisdiction_id",
    "address_id",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
)
"""What a POST may carry and is not kept (``api_key``: the token authenticates the caller)."""
MAX_REQUESTS = 1000
"""The most requests one ``GET requests.json`` answers (the spec's own bound)."""
DEFAULT_WINDOW = timedelta(days=90)
"""Without ids or dates, the requests of the last 90 days (the spec's default)."""


class Services:
    """grid's catalog as Open311 services, kept for ``ttl`` seconds. When grid is out of reach
    the last copy serves; with none, the list is a 503 and a request's code is taken unchecked
    (a report is never refused for grid being down, or refusing intake the catalog). After a
    failed fetch grid is not asked again for ``retry`` seconds, and one fetch at a time is
    made: a listing names each request's service, and asking a grid that hangs once per
    request took its timeout as many times."""

    def __init__(self, grid: GridClient, *, ttl: float = 300.0, retry: float = 30.0) -> None:
        self.grid = grid
        self.ttl = ttl
        self.retry = retry
        self._categories: dict[str, Category] | None = None
        self._retired: dict[str, Category] = {}
        """the catalog's retired categories: no service any more, but the name of requests filed under one"""
        self._fetched = -math.inf
        self._failed = -math.inf
        self._fetching = asyncio.Lock()

    def _due(self) -> bool:
        now = time.monotonic()
        return now - self._fetched > self.ttl and now - self._failed > self.retry

    async def categories(self) -> dict[str, Category] | None:
        if self._due():
            async with self._fetching:
                if self._due():  # not fetched meanwhile by the request that held the lock
                    try:
                        self._categories = {c.code: c for c in await self.grid.catalog()}
                        self._fetched = time.monotonic()
                    except WanggeError as error:  # grid's refusal is intake's problem, not the caller's
                        log.warning("the catalog could not be fetched from grid: %s", error.detail)
                        self._failed = time.monotonic()
                    else:
                        try:
                            self._retired = {c.code: c for c in await self.grid.catalog(retired=True)}
                        except WanggeError as error:  # the names of retired services only
                            log.warning(
                                "the catalog's retired categories could not be fetched: %s", error.detail
                            )
        return self._categories

    async def listed(self) -> list[Service]:
        categories = await self.categories()
        if categories is None:
            raise PeerUnavailable("the catalog is not loaded yet: grid is out of reach; retry shortly")
        return [_service(category) for category in categories.values()]

    async def definition(self, code: str) -> ServiceDefinition:
        categories = await self.categories()
        if categories is None:
            raise PeerUnavailable("the catalog is not loaded yet: grid is out of reach; retry shortly")
        if code not in categories:
            raise NotFound(f"no service {code}")
        return ServiceDefinition(service_code=code, attributes=[])

    async def name_of(self, code: str | None) -> str | None:
        """The name of a request's service: a retired category's too (the request was filed under it)."""
        categories = await self.categories() if code else None
        category = (categories or {}).get(code) or self._retired.get(code) if code else None
        return category.name_zh if category else None


def _service(category: Category) -> Service:
    return Service(
        service_code=category.code,
        service_name=category.name_zh,
        description=category.name_en,
        metadata=False,
        type="realtime",
        keywords=f"{category.class_en}, {category.name_en}",
        group=category.class_zh,
    )


def parse_form(body: bytes) -> dict[str, str]:
    """A POST's ``application/x-www-form-urlencoded`` body: each field once, each known. Empty
    pieces (a trailing or doubled ``&``, which some encoders write) are skipped, as browsers do;
    a percent-escape that is not UTF-8 is refused, not kept as U+FFFD."""
    check_form_size(body)
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not a UTF-8 application/x-www-form-urlencoded form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise BadRequest(f"{name} is given twice")
        if name.startswith("attribute["):
            raise BadRequest(f"{name}: no service has attributes")
        if name not in KEPT and name not in IGNORED:
            raise BadRequest(f"{name} is no field of an Open311 service request")
        form[name] = value
    return form


async def create_request(
    reception: reports.Reception,
    services: Services,
    *,
    form: dict[str, str],
    actor: Actor,
    idempotency_key: str | None,
) -> tuple[RequestCreated, str, bool]:
    """File the request as a report; its Open311 answer, the report's id, and whether this was
    a retry answered from what the first try stored."""
    code = form.get("service_code", "").strip()
    if not code:
        raise BadRequest("service_code is required: one of GET services.json")
    categories = await services.categories()
    if categories is not None and code not in categories:
        shown = code if len(code) <= 64 else f"{code[:64]}…"  # echoed, not the whole of a 1 MiB form
        raise BadRequest(f"service_code {shown} is no service: one of GET services.json")
    if not form.get("lat", "").strip() or not form.get("long", "").strip():
        raise BadRequest("lat and long are required: a request is located by its point, not its address")
    description = form.get("description", "").strip() or (await services.name_of(code)) or code
    try:
        body = ReportCreate.model_validate(
            {
                "id": uuid.uuid4(),
                "category": code,
                "description": description,
                "location": {
                    "lat": _number("lat", form["lat"]),
                    "lon": _number("long", form["long"]),
                    "address": form.get("address_string", "").strip() or None,
                },
                "seen_at": utcnow(),
                "photos": [form["media_url"].strip()] if form.get("media_url", "").strip() else [],
            }
        )
    except ValidationError as error:
        raise BadRequest(_first_error(error)) from None
    answer = await reports.create_report(
        reception,
        body=body,
        actor=actor,
        idempotency_key=idempotency_key,
        request_hash=rules.request_hash({"open311": form}),
    )
    report_id = str(answer.body["id"])
    created = RequestCreated(service_request_id=report_id, service_notice=answer.body["status"])
    return created, report_id, answer.replayed


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number of decimal degrees, not {value[:40]!r}") from None
    if not math.isfinite(number):
        raise BadRequest(f"{name} must be a finite number")
    if not PLAIN_DECIMAL.fullmatch(value.strip()):
        raise BadRequest(f"{name} must be a number of decimal degrees, not {value[:40]!r}")
    return number


_FIELD_NAMES = {"location.lat": "lat", "location.lon": "long", "location.address": "address_string"}
_FIELD_NAMES |= {"photos.0": "media_url", "category": "service_code"}


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")  # the whole request's check names its field
    return f"{_FIELD_NAMES.get(where, where)}: {message}" if where else message


async def get_request(
    session: AsyncSession, services: Services, *, report_id: uuid.UUID, actor: Actor
) -> ServiceRequest:
    report = await reports.get_report(session, report_id=report_id, actor=actor)
    note = report.updates[-1].note if report.updates else None
    return await _request(services, report.model_dump(), note)


async def list_requests(
    session: AsyncSession,
    services: Services,
    *,
    actor: Actor,
    ids: Sequence[uuid.UUID],
    service_codes: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    statuses: frozenset[str],
) -> list[ServiceRequest]:
    """The caller's own requests, newest first: those named, whatever the other filters say (ids
    override every other argument, as GeoReport v2 says), or those of the period (the last 90
    days by default), of the services and the status when given."""
    if ids:
        service_codes, start, end, statuses = (), None, None, frozenset()
    elif start is None and end is None:
        start = utcnow() - DEFAULT_WINDOW
    rows = await repository.requests_of(
        session,
        reporter_id=actor.id,
        ids=ids,
        categories=service_codes,
        start=start,
        end=end,
        closed=None if statuses in (frozenset(), frozenset({"open", "closed"})) else "closed" in statuses,
        closed_statuses=CLOSED_STATUSES,
        limit=MAX_REQUESTS,
    )
    notes = await repository.latest_notes(session, [row.id for row in rows])
    return [await _request(services, reports.to_summary(row).model_dump(), notes.get(row.id)) for row in rows]


async def _request(services: Services, report: dict[str, Any], note: str | None) -> ServiceRequest:
    status = report["status"]
    number = f" {report['case_number']}" if report["case_number"] else ""
    return ServiceRequest(
        service_request_id=str(report["id"]),
        status="closed" if status in CLOSED_STATUSES else "open",
        status_notes=note,
        service_name=await services.name_of(report["category"]),
        service_code=report["category"],
        description=report["description"],
        agency_responsible=report["department_name"],
        service_notice=f"{status}{number}",
        requested_datetime=report["received_at"],
        updated_datetime=report["updated_at"],
        expected_datetime=report["deadline_at"],
        address=report["location"]["address"],
        lat=report["location"]["lat"],
        long=report["location"]["lon"],
        media_url=report["photos"][0] if report["photos"] else None,
    )
