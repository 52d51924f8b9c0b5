"""The demo's world: the three APIs, the territory, catalog and staff as an admin sees them,
and the day's reports planned in advance."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from shapely.geometry import Point, shape

from services.grid.seed import STAFF_FILE, load

STREETS = [
    "中山路",
    "思明南路",
    "大同路",
    "镇海路",
    "鹭江道",
    "升平路",
    "局口街",
    "霞溪路",
    "开禾路",
    "海后路",
]
DETAILS = ["影响行人通行", "居民多次反映", "早高峰尤其明显", "已持续两天", "游客较多的时段", "靠近公交站"]
CONCERNS = [
    "3号楼夜间装修噪音扰民",
    "独居老人陈阿婆需定期探访",
    "居民反映小区路灯不亮",
    "两户邻居因漏水起争执，已调解",
    "商户询问外摆经营的规定",
    "居民希望增设非机动车停放点",
]
CONCURRENCY = 8


@dataclass
class DemoConfig:
    intake_url: str = "http://127.0.0.1:8001"
    dispatch_url: str = "http://127.0.0.1:8002"
    grid_url: str = "http://127.0.0.1:8003"
    reports: int = 60
    seed: int = 20261127
    admin: str = "pan.jun"
    password: str = "wangge-demo"


@dataclass
class Staff:
    username: str
    role: str
    department_code: str | None = None
    regions: list[str] = field(default_factory=list)
    token: str = ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    cells: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    staff: dict[str, list[Staff]]

    def one(self, role: str, rng: random.Random, department: str | None = None) -> Staff:
        people = [
            s for s in self.staff.get(role, []) if department is None or s.department_code == department
        ]
        if not people:
            raise RuntimeError(f"the demo staff has no {role}" + (f" in {department}" if department else ""))
        return rng.choice(people)

    def staffed(self) -> set[str]:
        """The departments with a demo handler: a department an admin added (or whose demo
        handlers are gone) has nobody the demo can act as, so the demo sends it nothing."""
        return {s.department_code for s in self.staff.get("handler", []) if s.department_code}


@dataclass
class PlannedReport:
    reporter: Staff
    body: dict[str, Any]
    cell: str | None = None
    """The reporter's own cell the report is in (None for a problem walked past elsewhere)."""


class Api:
    """The three services, spoken to as their own clients would."""

    def __init__(self, config: DemoConfig) -> None:
        self.password = config.password
        timeout = httpx.Timeout(15.0)
        self.intake = httpx.AsyncClient(base_url=config.intake_url, timeout=timeout)
        self.dispatch = httpx.AsyncClient(base_url=config.dispatch_url, timeout=timeout)
        self.grid = httpx.AsyncClient(base_url=config.grid_url, timeout=timeout)

    async def aclose(self) -> None:
        for client in (self.intake, self.dispatch, self.grid):
            await client.aclose()

    async def login(self, username: str) -> str:
        """A real access token for a demo account, from grid's OAuth2 password grant."""
        token = await self.try_login(username)
        if token is None:
            raise RuntimeError(f"{username} does not sign in with the demo password (see --password)")
        return token

    async def try_login(self, username: str) -> str | None:
        """As ``login``, or None for an account whose password is not the demo's (grid's 400
        ``invalid_grant``; any other refusal is raised, a locked account's naming it)."""
        form = {"grant_type": "password", "username": username, "password": self.password}
        response = await self.grid.post("/v1/auth/token", data=form)
        if response.status_code == 400 and response.json().get("error") == "invalid_grant":
            return None
        if response.status_code == 429:  # five wrong passwords in a row: grid's sign-in lock
            raise RuntimeError(
                f"{username} is locked after too many failed sign-ins: try again in "
                f"{response.headers.get('Retry-After', '60')} s, or have an admin set a new password"
            )
        return str(self.ok(response)["access_token"])

    @staticmethod
    def ok(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise RuntimeError(
                f"{response.request.method} {response.request.url} → {response.status_code}: {response.text}"
            )
        return response.json()

    async def all_pages(
        self, client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
    ) -> list[Any]:
        items: list[Any] = []
        cursor = None
        while True:
            page = self.ok(
                await client.get(
                    path,
                    params={**params, "limit": 100, **({"cursor": cursor} if cursor else {})},
                    headers=headers,
                )
            )
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def act(self, case_id: int, action: str, body: dict[str, Any], actor: Staff) -> dict[str, Any]:
        """Read the case for its ETag, then act with If-Match; read again if someone got there first."""
        for _ in range(5):
            current = await self.dispatch.get(f"/v1/cases/{case_id}", headers=actor.headers())
            self.ok(current)
            response = await self.dispatch.post(
                f"/v1/cases/{case_id}/{action}",
                json=body,
                headers={**actor.headers(), "If-Match": current.headers["ETag"]},
            )
            if response.status_code != 412:
                return dict(self.ok(response))
        raise RuntimeError(f"case {case_id} kept changing under {action}")


async def load_world(api: Api, admin_username: str) -> World:
    """The territory, catalog and staff as an admin sees them; every account the demo seeded
    signed in with the demo's password (one it cannot sign in takes no part). Accounts an
    operator added are left alone: a wrong password tried on them counts against their
    username, which is locked after five (``services/grid/identity/lockout.py``)."""
    admin = Staff(admin_username, "admin", token=await api.login(admin_username))
    cells = api.ok(await api.grid.get("/v1/territory/cells", headers=admin.headers()))["cells"]
    categories = await api.all_pages(api.grid, "/v1/catalog", admin.headers())
    seeded = {person["username"] for person in load(STAFF_FILE)["staff"]}
    people = [
        p
        for p in await api.all_pages(api.grid, "/v1/staff", admin.headers())
        if p["active"] and p["username"] in seeded
    ]
    tokens = await bounded(api.try_login(person["username"]) for person in people)
    staff: dict[str, list[Staff]] = {}
    for person, token in zip(people, tokens, strict=True):
        if token is None:
            continue
        staff.setdefault(person["role"], []).append(
            Staff(
                person["username"],
                person["role"],
                person.get("department_code"),
                person.get("region_codes") or [],
                token,
            )
        )
    if not cells or not categories:
        raise RuntimeError("grid has no territory or catalog: run `wangge up` (it seeds the demo) first")
    return World(cells, categories, staff)


def random_point_in(geometry: dict[str, Any], rng: random.Random) -> tuple[float, float]:
    polygon = shape(geometry)
    min_x, min_y, max_x, max_y = polygon.bounds
    for _ in range(1000):
        point = Point(rng.uniform(min_x, max_x), rng.uniform(min_y, max_y))
        if polygon.contains(point):
            return point.y, point.x
    centre = polygon.representative_point()
    return centre.y, centre.x


def plan_day(world: World, count: int, rng: random.Random) -> list[PlannedReport]:
    workers = world.staff.get("grid_worker", []) + world.staff.get("grid_assistant", [])
    if not workers:
        raise RuntimeError("the demo staff has no grid workers")
    cells_by_code = {cell["code"]: cell for cell in world.cells}
    staffed = world.staffed()
    routed = [c for c in world.categories if c.get("department_code") in staffed]
    if not routed:
        raise RuntimeError("the demo staff has no handler in any department of the catalog")
    unrouted = [c for c in world.categories if not c.get("department_code")]
    now = datetime.now(UTC)
    plan: list[PlannedReport] = []
    while len(plan) < count:
        worker: Staff | None = None
        if plan and rng.random() < 0.15:
            # Someone else walks past the same problem a few minutes later.
            original = rng.choice(plan).body
            lat = original["location"]["lat"] + rng.uniform(-0.00008, 0.00008)
            lon = original["location"]["lon"] + rng.uniform(-0.00008, 0.00008)
            category = {"code": original["category"]}
            street = original["location"]["address"]
            name = original["description"].split("：", 1)[0]
        else:
            worker = rng.choice(workers)
            own_cells = [cells_by_code[code] for code in worker.regions if code in cells_by_code]
            cell = rng.choice(own_cells or world.cells)
            lat, lon = random_point_in(cell["geometry"], rng)
            pool = unrouted if unrouted and rng.random() < 0.08 else routed
            category = rng.choice(pool)
            street = f"{rng.choice(STREETS)}{rng.randint(1, 300)}号"
            name = category.get("name_zh", category["code"])
        # The worker whose cell it is, or (for the same problem seen twice) whoever walked past.
        reporter = worker if worker is not None else rng.choice(workers)
        seen_at = now - timedelta(minutes=rng.randint(0, 50))
        body = {
            "id": str(uuid.uuid4()),
            "category": category["code"] if rng.random() > 0.03 else None,
            "description": f"{name}：{street}附近，{rng.choice(DETAILS)}",
            "location": {"lat": round(lat, 7), "lon": round(lon, 7), "address": street},
            "seen_at": seen_at.isoformat(),
        }
        if body["category"] is None:
            body["description"] = f"不确定归类：{street}附近有情况，{rng.choice(DETAILS)}"
        own_cell = cell["code"] if worker is not None and cell["code"] in worker.regions else None
        plan.append(PlannedReport(reporter, body, own_cell))
    return plan


async def bounded(tasks: Iterable[Any], limit: int = CONCURRENCY) -> list[Any]:
    """Run the coroutines, ``limit`` at a time; the first to fail stops the others (and closes
    those still waiting for their turn, which would warn that they were never awaited)."""
    gate = asyncio.Semaphore(limit)

    async def run(task: Any) -> Any:
        try:
            async with gate:
                return await task
        finally:
            task.close()  # no-op for one that ran; one cancelled before its turn never starts

    runs = [asyncio.ensure_future(run(task)) for task in tasks]
    try:
        return await asyncio.gather(*runs)
    except BaseException:
        for started in runs:
            started.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        raise
