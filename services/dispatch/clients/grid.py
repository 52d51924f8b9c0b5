"""dispatch's client of grid: routing, departments and the catalog.

Routing and catalog answers (including "unknown", a 404) are cached in memory for
``cache_seconds``: a burst of reports of one kind in one cell asks grid once. Concurrent
askers of one answer share one request (single flight), and at most ``max_concurrency``
requests are in flight at once (httpx's pool costs more per request as concurrency grows).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel

from shared.auth import ServiceTokens
from shared.errors import NotFound
from shared.peer import PeerClient

K = TypeVar("K")
T = TypeVar("T")


class Category(BaseModel):
    code: str
    name_zh: str
    name_en: str | None = None
    class_zh: str | None = None
    class_en: str | None = None
    urgency: Literal["normal", "urgent", "critical"] = "normal"
    time_limit_hours: int
    department_code: str | None = None


class DepartmentRef(BaseModel):
    code: str
    name_zh: str
    name_en: str | None = None


class Department(DepartmentRef):
    phone: str | None = None


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
        self._routes: dict[tuple[str, str | None], tuple[float, Route | None]] = {}
        self._categories: dict[str, tuple[float, Category | None]] = {}
        self._flights: dict[object, asyncio.Future[Any]] = {}
        self._slots = asyncio.Semaphore(max_concurrency)

    async def resolve_route(self, category: str, cell: str | None) -> Route | None:
        """The routing answer for a category (in a cell), or None when grid does not know them."""

        async def fetch() -> Route | None:
            params = {"category": category} | ({"cell": cell} if cell else {})
            try:
                response = await self.request("GET", "/v1/routing/resolve", params=params)
            except NotFound:
                return None
            return Route.model_validate(response.json())

        return await self._cached(self._routes, (category, cell), fetch)

    async def category(self, code: str) -> Category | None:
        """A catalog entry, or None when the category is unknown."""

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

    async def department(self, code: str) -> Department | None:
        """A department, or None when grid does not know it (not cached: dispatchers pick rarely)."""
        try:
            response = await self.request("GET", f"/v1/departments/{code}")
        except NotFound:
            return None
        return Department.model_validate(response.json())
