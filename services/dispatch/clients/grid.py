"""dispatch's client of grid: routing, departments, the catalog and the regions' names.

Routing and catalog answers (including "unknown"), the departments and the regions' names are
cached in memory for ``cache_seconds``: a burst of reports of one kind in one cell asks grid
once. The routing questions of a batch of reports that are not cached go to grid together, in
one ``POST /v1/routing/resolutions`` (up to 500 a request): one request and five queries in grid
instead of a request and four queries per question. Concurrent askers of one answer share
one request (single flight), and at most ``max_concurrency`` requests are in flight at once
(httpx's pool costs more per request as concurrency grows).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel

from shared.auth import ServiceTokens
from shared.errors import NotFound
from shared.peer import PeerClient
from shared.schemas import CATEGORY_CODE, DEPARTMENT_CODE

log = logging.getLogger("wangge.dispatch.grid")

K = TypeVar("K")
T = TypeVar("T")
Pair = tuple[str, str | None]
"""A routing question: (category, cell)."""
MAX_QUESTIONS = 500
"""what grid takes in one ``POST /v1/routing/resolutions`` (its ``routing.schemas.MAX_QUESTIONS``)"""
MAX_REGIONS = 10_000
"""the regions of a level read for their names, in use and retired each (100 of grid's pages):
past them, a region is unnamed"""
RegionLevel = Literal["community", "cell"]


class Category(BaseModel):
    code: str
    name_zh: str
    name_en: str | None = None
    class_zh: str | None = None
    class_en: str | None = None
    urgency: Literal["normal", "urgent", "critical"] = "normal"
    time_limit_hours: int
    department_code: str | None = None
    retired_at: datetime | None = None
    """Retired from the catalog: read by code for the cases that carry it, never routed."""


class DepartmentRef(BaseModel):
    code: str
    name_zh: str
    name_en: str | None = None
    active_handlers: int | None = None
    """Its handlers who can sign in (grid shows dispatch's service the count, in a routing
    answer too, cached as it is): 0, nobody sees the cases sent to it; None, grid did not say."""


class Department(DepartmentRef):
    phone: str | None = None
    retired_at: datetime | None = None
    """Retired (merged into another, reorganised): no case is dispatched to it any more."""


class Region(BaseModel):
    code: str
    name: str


class Route(BaseModel):
    category: Category
    department: DepartmentRef | None
    source: Literal["override", "catalog", "none"]
    region_code: str | None = None


class GridClient(PeerClient):
    peer = "grid"

    def __init__(
        self,
        base_url: str,
        *,
        caller: str = "dispatch",
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        cache_seconds: float = 60.0,
        tokens: ServiceTokens | None = None,
        max_concurrency: int = 8,
    ) -> None:
        super().__init__(base_url, caller=caller, timeout=timeout, transport=transport, tokens=tokens)
        self.cache_seconds = cache_seconds
        self._routes: dict[Pair, tuple[float, Route | None]] = {}
        self._categories: dict[str, tuple[float, Category | None]] = {}
        self._department_lists: dict[str, tuple[float, list[DepartmentRef]]] = {}
        self._region_names: dict[RegionLevel, tuple[float, dict[str, str]]] = {}
        self._flights: dict[object, asyncio.Future[Any]] = {}
        self._route_flights: dict[Pair, asyncio.Future[dict[Pair, Route | None]]] = {}
        self._slots = asyncio.Semaphore(max_concurrency)

    async def resolve_route(self, category: str, cell: str | None) -> Route | None:
        """The routing answer for a category (in a cell), or None when grid does not know them."""
        return (await self.resolve_routes([(category, cell)]))[category, cell]

    async def resolve_routes(self, pairs: Iterable[Pair]) -> dict[Pair, Route | None]:
        """The routing answer to each (category, cell) question (None where grid does not know
        the category or the cell); what is not cached is asked in one request per 500."""
        now = time.monotonic()
        answers: dict[Pair, Route | None] = {}
        flights: dict[Pair, asyncio.Future[dict[Pair, Route | None]]] = {}
        missing: list[Pair] = []
        for pair in dict.fromkeys(pairs):
            cached = self._routes.get(pair)
            if cached is not None and cached[0] > now:
                answers[pair] = cached[1]
            elif pair in self._route_flights:
                flights[pair] = self._route_flights[pair]  # asked already by a concurrent batch
            else:
                missing.append(pair)
        for start in range(0, len(missing), MAX_QUESTIONS):
            chunk = missing[start : start + MAX_QUESTIONS]
            flight: asyncio.Future[dict[Pair, Route | None]] = asyncio.ensure_future(self._ask_routes(chunk))
            for pair in chunk:
                self._route_flights[pair] = flights[pair] = flight
            flight.add_done_callback(functools.partial(self._flight_done, chunk))
        for pair, flight in flights.items():
            answers[pair] = (await asyncio.shield(flight))[pair]
        return answers

    def _flight_done(self, chunk: list[Pair], flight: asyncio.Future[Any]) -> None:
        for pair in chunk:
            self._route_flights.pop(pair, None)
        if not flight.cancelled():
            flight.exception()  # retrieved: every asker got it already, or none is left to

    async def _ask_routes(self, chunk: list[Pair]) -> dict[Pair, Route | None]:
        questions = [{"category": category} | ({"cell": cell} if cell else {}) for category, cell in chunk]
        async with self._slots:
            response = await self.request("POST", "/v1/routing/resolutions", json={"questions": questions})
        answers = response.json()["answers"]
        resolved = {
            pair: Route.model_validate(answer["resolution"]) if answer["resolution"] is not None else None
            for pair, answer in zip(chunk, answers, strict=True)
        }
        until = time.monotonic() + self.cache_seconds
        self._routes.update((pair, (until, route)) for pair, route in resolved.items())
        return resolved

    async def category(self, code: str) -> Category | None:
        """A catalog entry, or None when the category is unknown (or no catalog code at all)."""
        if not re.fullmatch(CATEGORY_CODE, code):
            return None  # a path segment of grid's: never "../" or "?x=1" from a caller

        async def fetch() -> Category | None:
            try:
                response = await self.request("GET", f"/v1/catalog/{code}")
            except NotFound:
                return None
            return Category.model_validate(response.json())

        return await self._cached(self._categories, code, fetch)

    async def _cached(self, cache: dict[K, tuple[float, T]], key: K, fetch: Callable[[], Awaitable[T]]) -> T:
        """The cached answer, else one request shared by every concurrent asker (its fault too)."""
        cached = cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        flight_key = (id(cache), key)
        flight: asyncio.Future[Any] | None = self._flights.get(flight_key)
        if flight is None:

            async def fly() -> T:
                async with self._slots:
                    answer = await fetch()
                cache[key] = (time.monotonic() + self.cache_seconds, answer)
                return answer

            flight = asyncio.ensure_future(fly())
            self._flights[flight_key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(flight_key, None))
        answer: T = await asyncio.shield(flight)
        return answer

    async def departments(self) -> list[DepartmentRef]:
        """Every department, in code order (grid pages them by 100), cached as the catalog is."""

        async def fetch() -> list[DepartmentRef]:
            return [DepartmentRef.model_validate(item) for item in await self.all_items("/v1/departments")]

        return await self._cached(self._department_lists, "all", fetch)

    async def department(self, code: str) -> Department | None:
        """A department, a retired one too, or None when grid does not know it (not cached:
        dispatchers pick rarely)."""
        if not re.fullmatch(DEPARTMENT_CODE, code):
            return None  # a path segment of grid's: never "../" or "?x=1" from a caller
        try:
            response = await self.request("GET", f"/v1/departments/{code}")
        except NotFound:
            return None
        return Department.model_validate(response.json())

    async def region_names(self, level: RegionLevel) -> dict[str, str]:
        """The name of every region of ``level`` by code, the retired ones too (grid lists them
        apart, with ``retired=true``), cached as the catalog is; at most :data:`MAX_REGIONS` of
        each."""

        async def fetch() -> dict[str, str]:
            names: dict[str, str] = {}
            for filters in ({"level": level}, {"level": level, "retired": "true"}):
                items = await self.all_items("/v1/regions", filters, max_items=MAX_REGIONS)
                if len(items) == MAX_REGIONS:
                    log.warning("regions %s: the first %d named, grid may list more", filters, MAX_REGIONS)
                names.update((region.code, region.name) for region in map(Region.model_validate, items))
            return names

        return await self._cached(self._region_names, level, fetch)
