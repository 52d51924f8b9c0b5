"""``wangge demo``: a working day in Zhonghua subdistrict, driven through the HTTP APIs.

Grid workers patrol their cells and report what they find (some of them the same stall,
minutes apart); the router dispatches what the catalog covers, dispatchers triage the
rest; handlers accept and resolve (now and then returning a case to the wrong desk);
grid workers verify on site (now and then sending it back for rework); reporters rate.
Then a summary: reports, cases, merged duplicates, closed, and how fast reports were
dispatched.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from shapely.geometry import Point, shape

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


@dataclass
class PlannedReport:
    reporter: Staff
    body: dict[str, Any]


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
        form = {"grant_type": "password", "username": username, "password": self.password}
        return str(self.ok(await self.grid.post("/v1/auth/token", data=form))["access_token"])

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
    """The territory, catalog and staff as an admin sees them; every demo account signed in."""
    admin = Staff(admin_username, "admin", token=await api.login(admin_username))
    cells = api.ok(await api.grid.get("/v1/territory/cells", headers=admin.headers()))["cells"]
    categories = await api.all_pages(api.grid, "/v1/catalog", admin.headers())
    people = [p for p in await api.all_pages(api.grid, "/v1/staff", admin.headers()) if p["active"]]
    tokens = await bounded(api.login(person["username"]) for person in people)
    staff: dict[str, list[Staff]] = {}
    for person, token in zip(people, tokens, strict=True):
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
    routed = [c for c in world.categories if c.get("department_code")]
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
        plan.append(PlannedReport(reporter, body))
    return plan


async def bounded(tasks: Iterable[Any], limit: int = CONCURRENCY) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(task: Any) -> Any:
        async with gate:
            return await task

    return await asyncio.gather(*(run(task) for task in tasks))


async def run_demo(config: DemoConfig, console: Console) -> int:
    rng = random.Random(config.seed)
    api = Api(config)
    try:
        try:
            world = await load_world(api, config.admin)
        except httpx.HTTPError as exc:
            console.print(f"[red]cannot reach wangge ({exc}); is `wangge up` running?[/]")
            return 1
        plan = plan_day(world, config.reports, rng)
        day = Day(api, world, rng)
        columns = (
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            await day.file_reports(plan, progress)
            await day.wait_for_cases(plan, progress)
            await day.triage(progress)
            await day.handle_and_verify(progress)
            await day.rate(plan, progress)
        console.print(await summary(api, plan, world))
        return 0
    finally:
        await api.aclose()


class Day:
    def __init__(self, api: Api, world: World, rng: random.Random) -> None:
        self.api = api
        self.world = world
        self.rng = rng
        self.dispatcher = world.one("dispatcher", rng)
        self.case_ids: set[int] = set()

    async def file_reports(self, plan: list[PlannedReport], progress: Progress) -> None:
        task = progress.add_task("grid workers report", total=len(plan))

        async def file(report: PlannedReport) -> None:
            response = await self.api.intake.post(
                "/v1/reports",
                json=report.body,
                headers={**report.reporter.headers(), "Idempotency-Key": report.body["id"]},
            )
            self.api.ok(response)
            progress.advance(task)

        await bounded(file(report) for report in plan)

    async def wait_for_cases(
        self, plan: list[PlannedReport], progress: Progress, within: float = 60.0
    ) -> None:
        task = progress.add_task("dispatch registers cases", total=len(plan))
        waiting = {report.body["id"]: report for report in plan}
        deadline = asyncio.get_running_loop().time() + within
        while waiting and asyncio.get_running_loop().time() < deadline:
            for report_id, report in list(waiting.items()):
                seen = self.api.ok(
                    await self.api.intake.get(f"/v1/reports/{report_id}", headers=report.reporter.headers())
                )
                if seen.get("case_id"):
                    self.case_ids.add(int(seen["case_id"]))
                    del waiting[report_id]
                    progress.advance(task)
            if waiting:
                await asyncio.sleep(0.2)
        if waiting:
            raise RuntimeError(f"{len(waiting)} reports reached no case within {within:.0f} s")

    async def triage(self, progress: Progress) -> None:
        queue = await self.api.all_pages(
            self.api.dispatch, "/v1/cases", self.dispatcher.headers(), status="triage"
        )
        task = progress.add_task("dispatchers triage", total=len(queue))
        departments = sorted(
            {c["department_code"] for c in self.world.categories if c.get("department_code")}
        )
        for case in queue:
            body: dict[str, Any] = {"department_code": self.rng.choice(departments), "note": "人工派单"}
            await self.api.act(case["id"], "dispatch", body, self.dispatcher)
            progress.advance(task)

    async def handle_and_verify(self, progress: Progress) -> None:
        task = progress.add_task("departments handle, workers verify", total=len(self.case_ids))

        async def work(case_id: int) -> None:
            await self.work_case(case_id)
            progress.advance(task)

        await bounded(work(case_id) for case_id in sorted(self.case_ids))

    async def work_case(self, case_id: int) -> None:
        """Move one case along until it is closed (or rejected), as the people on it would."""
        for _ in range(12):
            case = self.api.ok(
                await self.api.dispatch.get(f"/v1/cases/{case_id}", headers=self.dispatcher.headers())
            )
            status = case["status"]
            if status in ("closed", "rejected"):
                break
            if status == "triage":
                body = {
                    "department_code": case.get("department_code") or "law-enforcement",
                    "note": "重新派单",
                }
                await self.api.act(case_id, "dispatch", body, self.dispatcher)
            elif status == "dispatched":
                handler = self.world.one("handler", self.rng, case["department_code"])
                if self.rng.random() < 0.05 and not case.get("rework_count"):
                    await self.api.act(case_id, "return", {"reason": "不属于本部门职责，退回重派"}, handler)
                else:
                    await self.api.act(case_id, "accept", {}, handler)
            elif status == "in_progress":
                handler = self.world.one("handler", self.rng, case["department_code"])
                await self.api.act(case_id, "resolve", {"note": "已到场处置完毕"}, handler)
            elif status == "resolved":
                verifier = self.verifier_for(case)
                passed = self.rng.random() > 0.1 or bool(case.get("rework_count"))
                body = {"passed": passed, "note": "现场核查通过" if passed else "现场仍有问题，需返工"}
                await self.api.act(case_id, "verify", body, verifier)

    def verifier_for(self, case: dict[str, Any]) -> Staff:
        """A grid worker of the case's cell checks on site; failing one, whoever reported it."""
        cell = case.get("grid_cell") or ""
        workers = self.world.staff.get("grid_worker", []) + self.world.staff.get("grid_assistant", [])
        local = [w for w in workers if any(cell.startswith(region) for region in w.regions)]
        if local:
            return self.rng.choice(local)
        by_name = {w.username: w for w in workers}
        return next(by_name[r["reporter_id"]] for r in case["reports"] if r["reporter_id"] in by_name)

    async def rate(self, plan: list[PlannedReport], progress: Progress) -> None:
        task = progress.add_task("reporters rate", total=len(self.case_ids))
        reporters = {report.body["id"]: report.reporter for report in plan}

        async def rate_case(case_id: int) -> None:
            case = self.api.ok(
                await self.api.dispatch.get(f"/v1/cases/{case_id}", headers=self.dispatcher.headers())
            )
            if case["status"] == "closed":
                first = case["reports"][0]
                reporter = reporters.get(first["report_id"], self.world.one("grid_worker", self.rng))
                rating = 2 if self.rng.random() < 0.05 else self.rng.choice([4, 5, 5])
                comment = "处理及时，满意" if rating >= 4 else "问题又出现了"
                await self.api.act(case_id, "feedback", {"rating": rating, "comment": comment}, reporter)
                if rating <= 2:
                    await self.work_case(case_id)
                    await self.api.act(case_id, "feedback", {"rating": 4, "comment": "返工后满意"}, reporter)
            progress.advance(task)

        await bounded(rate_case(case_id) for case_id in sorted(self.case_ids))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def summary(api: Api, plan: list[PlannedReport], world: World) -> Table:
    admin = world.one("dispatcher", random.Random(0))
    listed = await api.all_pages(api.dispatch, "/v1/cases", admin.headers())
    report_ids = {report.body["id"] for report in plan}
    cases = [
        api.ok(await api.dispatch.get(f"/v1/cases/{c['id']}", headers=admin.headers()))
        for c in listed
        if c["id"] is not None
    ]
    cases = [c for c in cases if any(r["report_id"] in report_ids for r in c["reports"])]
    to_dispatch: list[float] = []
    auto = 0
    for case in cases:
        dispatches = [e for e in case["timeline"] if e["action"] == "dispatched"]
        if not dispatches or not dispatches[0]["actor_id"].startswith("system"):
            continue
        auto += 1
        first = parse_time(dispatches[0]["at"])
        for report in case["reports"]:
            joined = max(first, parse_time(report["joined_at"]))
            to_dispatch.append((joined - parse_time(report["received_at"])).total_seconds() * 1000)
    table = Table(title="wangge demo: one working day in 中华街道")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("reports filed", str(len(plan)))
    table.add_row("cases", str(len(cases)))
    merged = sum(r["report_id"] in report_ids for c in cases for r in c["reports"][1:])
    table.add_row("reports merged into an open case", str(merged))
    table.add_row("cases dispatched automatically", str(auto))
    table.add_row("cases closed", str(sum(c["status"] == "closed" for c in cases)))
    table.add_row("reworked at least once", str(sum(bool(c.get("rework_count")) for c in cases)))
    if to_dispatch:
        table.add_row("report → dispatched, median", f"{statistics.median(to_dispatch):.0f} ms")
        table.add_row("report → dispatched, p95", f"{percentile(to_dispatch, 0.95):.0f} ms")
    return table
