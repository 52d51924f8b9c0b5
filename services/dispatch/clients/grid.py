"""dispatch's client of grid: routing, departments and the catalog.

Routing and catalog answers (including "unknown", a 404) are cached in memory for
``cache_seconds``: a burst of reports of one kind in one cell asks grid once.
"""

from __future__ import annotations

import time
from typing import Literal

import httpx
from pydantic import BaseModel

from shared.auth import ServiceTokens
from shared.errors import NotFound
from shared.peer import PeerClient


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
    ) -> None:
        super().__init__(base_url, caller=caller, timeout=timeout, transport=transport, tokens=tokens)
        self.cache_seconds = cache_seconds
        self._routes: dict[tuple[str, str | None], tuple[float, Route | None]] = {}
        self._categories: dict[str, tuple[float, Category | None]] = {}

    async def resolve_route(self, category: str, cell: str | None) -> Route | None:
        """The routing answer for a category (in a cell), or None when grid does not know them."""
        now = time.monotonic()
        cached = self._routes.get((category, cell))
        if cached is not None and cached[0] > now:
            return cached[1]
        params = {"category": category} | ({"cell": cell} if cell else {})
        try:
            response = await self.request("GET", "/v1/routing/resolve", params=params)
            route: Route | None = Route.model_validate(response.json())
        except NotFound:
            route = None
        self._routes[(category, cell)] = (now + self.cache_seconds, route)
        return route

    async def category(self, code: str) -> Category | None:
        """A catalog entry, or None when the category is unknown."""
        now = time.monotonic()
        cached = self._categories.get(code)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            response = await self.request("GET", f"/v1/catalog/{code}")
            category: Category | None = Category.model_validate(response.json())
        except NotFound:
            category = None
        self._categories[code] = (now + self.cache_seconds, category)
        return category

    async def department(self, code: str) -> Department | None:
        """A department, or None when grid does not know it (not cached: dispatchers pick rarely)."""
        try:
            response = await self.request("GET", f"/v1/departments/{code}")
        except NotFound:
            return None
        return Department.model_validate(response.json())
