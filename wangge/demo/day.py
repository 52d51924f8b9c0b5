"""The working day, step by step, as the people on each case would take it."""

from __future__ import annotations

import asyncio
import io
import random
from typing import Any

import httpx
from PIL import Image, ImageDraw
from rich.progress import Progress

from wangge.demo.world import CONCERNS, Api, PlannedReport, Staff, World, bounded

PHOTO_ATTEMPTS = 30
"""intake takes in at most four uploads a photo worker at once (eight by default, as many as the
demo sends) and answers one more 503 with Retry-After: the demo waits as a phone's app would."""


def retry_after(response: httpx.Response) -> float:
    """The seconds a 503's ``Retry-After`` asks for (intake sends seconds; 1 for anything else)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


class Day:
    def __init__(self, api: Api, world: World, rng: random.Random) -> None:
        self.api = api
        self.world = world
        self.rng = rng
        self.dispatcher = world.one("dispatcher", rng)
        self.case_ids: set[int] = set()
        self.logs_written = 0
        self.unlogged: list[str] = []

    async def file_reports(self, plan: list[PlannedReport], progress: Progress) -> None:
        task = progress.add_task("grid workers report", total=len(plan))

        async def file(report: PlannedReport) -> None:
            photo = await self.photograph(report.reporter, report.body["description"])
            response = await self.api.intake.post(
                "/v1/reports",
                json={**report.body, "photos": [photo]},
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
        """Dispatch the day's cases waiting in triage: only the demo's own (a case someone else
        reported, an Open311 request from outside the territory, is the office's to decide)."""
        waiting = await self.api.all_pages(
            self.api.dispatch, "/v1/cases", self.dispatcher.headers(), status="triage"
        )
        queue = [case for case in waiting if case["id"] in self.case_ids]
        task = progress.add_task("dispatchers triage", total=len(queue))
        departments = sorted(self.world.staffed())
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
        """Move one case along until it is closed (or rejected), as the people on it would; a
        case with a department the demo has no handler in (an admin's routing override sent it
        there) is left to that department."""
        for _ in range(12):
            case = self.api.ok(
                await self.api.dispatch.get(f"/v1/cases/{case_id}", headers=self.dispatcher.headers())
            )
            status = case["status"]
            if status in ("closed", "rejected"):
                break
            handled = status in ("dispatched", "in_progress")
            if handled and case["department_code"] not in self.world.staffed():
                break
            if status == "triage":
                staffed = self.world.staffed()
                fallback = "law-enforcement" if "law-enforcement" in staffed else min(staffed)
                body = {"department_code": case.get("department_code") or fallback, "note": "重新派单"}
                await self.api.act(case_id, "dispatch", body, self.dispatcher)
            elif status == "dispatched":
                handler = self.world.one("handler", self.rng, case["department_code"])
                if self.rng.random() < 0.05 and not case.get("rework_count"):
                    await self.api.act(case_id, "return", {"reason": "不属于本部门职责，退回重派"}, handler)
                else:
                    await self.api.act(case_id, "accept", {}, handler)
            elif status == "in_progress":
                handler = self.world.one("handler", self.rng, case["department_code"])
                after = await self.photograph(handler, f"{case['case_number']} 处置后")
                await self.api.act(case_id, "resolve", {"note": "已到场处置完毕", "photos": [after]}, handler)
            elif status == "resolved":
                verifier = self.verifier_for(case)
                passed = self.rng.random() > 0.1 or bool(case.get("rework_count"))
                body = {"passed": passed, "note": "现场核查通过" if passed else "现场仍有问题，需返工"}
                await self.api.act(case_id, "verify", body, verifier)

    async def photograph(self, who: Staff, caption: str) -> str:
        """A phone's picture (a coloured frame with a mark on it), uploaded to intake: its URL."""
        shade = tuple(self.rng.randint(60, 220) for _ in range(3))
        picture = Image.new("RGB", (640, 480), shade)
        ImageDraw.Draw(picture).rectangle((200, 150, 440, 330), outline=(255, 255, 255), width=8)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=80, comment=caption.encode())
        headers = {**who.headers(), "Content-Type": "image/jpeg"}
        for _ in range(PHOTO_ATTEMPTS):
            response = await self.api.intake.post("/v1/photos", content=out.getvalue(), headers=headers)
            if response.status_code != 503:
                break
            await asyncio.sleep(retry_after(response))
        url: str = self.api.ok(response)["url"]
        return url

    def verifier_for(self, case: dict[str, Any]) -> Staff:
        """A grid worker of the case's cell checks on site; failing one, whoever reported it."""
        cell = case.get("grid_cell") or ""
        workers = self.world.staff.get("grid_worker", []) + self.world.staff.get("grid_assistant", [])
        local = [w for w in workers if any(cell.startswith(region) for region in w.regions)]
        if local:
            return self.rng.choice(local)
        by_name = {w.username: w for w in workers}
        return next(by_name[r["reporter_id"]] for r in case["reports"] if r["reporter_id"] in by_name)

    async def write_logs(self, plan: list[PlannedReport], progress: Progress) -> None:
        """The evening: each grid worker logs each of their cells, an assistant one of theirs
        (民情日志), naming the reports they filed there; one writer in ten forgets, and the
        office's check of who has not logged today names them. A log already written today (the
        demo run twice) is left as it is."""
        writers = self.world.staff.get("grid_worker", []) + self.world.staff.get("grid_assistant", [])
        names = {cell["code"]: cell["name"] for cell in self.world.cells}
        entries: list[tuple[Staff, str]] = []
        for writer in writers:
            cells = [code for code in writer.regions if code in names]
            if not cells or self.rng.random() < 0.1:
                continue
            entries += [
                (writer, c) for c in (cells if writer.role == "grid_worker" else [self.rng.choice(cells)])
            ]
        task = progress.add_task("grid workers write their logs", total=len(entries))

        async def write(writer: Staff, cell: str) -> None:
            filed = [r.body["id"] for r in plan if r.reporter is writer and r.cell == cell]
            found = f"上报问题{len(filed)}件" if filed else "未发现需上报的问题"
            body = {
                "grid_cell": cell,
                "patrol": f"巡查{names[cell]}，{found}",
                "concerns": self.rng.sample(CONCERNS, self.rng.randint(0, 2)),
                "households_visited": self.rng.randint(0, 12),
                "report_ids": filed[:50],
            }
            response = await self.api.grid.post("/v1/patrol-logs", json=body, headers=writer.headers())
            if response.status_code != 409:  # 409: written today already
                self.api.ok(response)
                self.logs_written += 1
            progress.advance(task)

        await bounded(write(writer, cell) for writer, cell in entries)
        unlogged = await self.api.all_pages(
            self.api.grid, "/v1/patrol-logs/missing", self.dispatcher.headers()
        )
        self.unlogged = [person["username"] for person in unlogged]

    async def rate(self, plan: list[PlannedReport], progress: Progress) -> None:
        task = progress.add_task("reporters rate", total=len(self.case_ids))
        reporters = {report.body["id"]: report.reporter for report in plan}

        async def rate_case(case_id: int) -> None:
            case = self.api.ok(
                await self.api.dispatch.get(f"/v1/cases/{case_id}", headers=self.dispatcher.headers())
            )
            if case["status"] == "closed":
                # The demo's first report on it: a case the demo's report joined may have been
                # opened by someone else, and only one who reported on a case may rate it.
                reporter = next(
                    reporters[r["report_id"]] for r in case["reports"] if r["report_id"] in reporters
                )
                rating = 2 if self.rng.random() < 0.05 else self.rng.choice([4, 5, 5])
                comment = "处理及时，满意" if rating >= 4 else "问题又出现了"
                await self.api.act(case_id, "feedback", {"rating": rating, "comment": comment}, reporter)
                if rating <= 2:
                    await self.work_case(case_id)
                    await self.api.act(case_id, "feedback", {"rating": 4, "comment": "返工后满意"}, reporter)
            progress.advance(task)

        await bounded(rate_case(case_id) for case_id in sorted(self.case_ids))
