"""The demo's closing table: what the day produced, and how fast reports were dispatched."""

from __future__ import annotations

import random
import statistics
from datetime import datetime

from rich.table import Table

from wangge.demo.day import Day
from wangge.demo.world import Api, PlannedReport, World


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def summary(api: Api, plan: list[PlannedReport], world: World, day: Day) -> Table:
    """The day's cases (``day.case_ids``, those its reports reached) only: every case of the
    system read one by one took longer with every day the system had run."""
    case_ids = day.case_ids
    admin = world.one("dispatcher", random.Random(0))
    report_ids = {report.body["id"] for report in plan}
    cases = [
        api.ok(await api.dispatch.get(f"/v1/cases/{case_id}", headers=admin.headers()))
        for case_id in sorted(case_ids)
    ]
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
    photos = sum(len(r["photos"]) for c in cases for r in c["reports"] if r["report_id"] in report_ids)
    photos += sum(len(e["photos"]) for c in cases for e in c["timeline"] if e["action"] == "resolved")
    table.add_row("photos (reports and resolutions)", str(photos))
    if to_dispatch:
        table.add_row("report → dispatched, median", f"{statistics.median(to_dispatch):.0f} ms")
        table.add_row("report → dispatched, p95", f"{percentile(to_dispatch, 0.95):.0f} ms")
    table.add_row("daily logs written (民情日志)", str(day.logs_written))
    # the office's check (GET /v1/patrol-logs/missing): the first few by username
    named = ", ".join(day.unlogged[:6]) + (" …" if len(day.unlogged) > 6 else "")
    table.add_row("grid workers with no log today", f"{len(day.unlogged)}" + (f" ({named})" if named else ""))
    # what the supervisors are judged by, over every case of the month so far (GET /v1/figures)
    month = api.ok(await api.dispatch.get("/v1/figures", headers=admin.headers()))["total"]
    for label, rate in (
        ("this month: closure rate", month["closure_rate"]),
        ("this month: on-time closure rate", month["on_time_closure_rate"]),
        ("this month: satisfaction rate", month["satisfaction_rate"]),
    ):
        table.add_row(label, "–" if rate is None else f"{rate:.0%}")
    return table
