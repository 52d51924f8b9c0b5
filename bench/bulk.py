"""Bulk-loading dispatch's database with cases, their reports and timelines (COPY via asyncpg).

Cases are spread over the last three years, newest ones still open, about as a grid office
would see them: most closed, a few rejected, the rest in every open state (old open ones are
overdue). Every case has one report and the timeline its status implies.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.payload import FINDINGS, STREETS

DEPARTMENTS = {
    "sanitation": "环卫站",
    "law-enforcement": "执法中队",
    "municipal-works": "市政所",
    "police": "派出所",
    "health-inspection": "卫生监督所",
    "market-supervision": "工商所",
}
CATEGORIES = [  # code, name, department, hours
    ("0101", "暴露垃圾", "sanitation", 4),
    ("0103", "垃圾满溢", "sanitation", 4),
    ("0201", "非法小广告", "law-enforcement", 24),
    ("0302", "施工占道", "municipal-works", 8),
    ("0403", "井盖缺失/破损", "municipal-works", 2),
    ("0501", "占道经营", "law-enforcement", 2),
    ("0503", "乱停放", "law-enforcement", 4),
    ("0601", "扒窃", "police", 1),
    ("0701", "食品卫生", "health-inspection", 24),
    ("0702", "无照经营", "market-supervision", 72),
]
CELLS = [f"3502030010{c}0{n}" for c in range(1, 5) for n in range(1, 5)]
# Status of a case by age: the newest are open, the old nearly all closed.
OPEN_STATUSES = ("triage", "dispatched", "in_progress", "resolved")
FLOW = [  # action, from, to, actor, role
    ("registered", None, "triage", "wang.fang", "reporter"),
    ("dispatched", "triage", "dispatched", "system:router", "service"),
    ("accepted", "dispatched", "in_progress", "gao.peng", "handler"),
    ("resolved", "in_progress", "resolved", "gao.peng", "handler"),
    ("verified", "resolved", "closed", "wang.fang", "grid_worker"),
]
STOP_AT = {"triage": 1, "dispatched": 2, "in_progress": 3, "resolved": 4, "closed": 5}
AREA = ((24.440, 24.470), (118.060, 118.095))
"""Where the cases lie (latitudes, longitudes): about 3.3 by 3.5 km around the demo territory,
so that the map's view of a square kilometre (``scenario_console.MAP_VIEW``) holds a part of
them (they lay in about 1 km² before the map, where any such view held every one)."""
SEARCH_TERM = "镇海路 17 号"
"""A console text search that matches about one case in 3,000 (a street address)."""

CASE_COLUMNS = (
    "id", "case_number", "status", "category_code", "category_name", "urgency", "time_limit_hours",
    "department_code", "department_name", "grid_cell", "community", "lat", "lon", "address",
    "description", "reported_at", "created_at", "updated_at", "dispatched_at", "deadline_at",
    "warn_at", "resolved_at", "closed_at", "rework_count", "report_count", "version",
)  # fmt: skip
REPORT_COLUMNS = (
    "id", "report_id", "case_id", "reporter_id", "channel", "category", "description", "lat", "lon",
    "photos", "seen_at", "received_at", "joined_at",
)  # fmt: skip
EVENT_COLUMNS = (
    "id", "case_id", "action", "from_status", "to_status", "actor_id", "actor_role", "note", "photos",
    "data", "at",
)  # fmt: skip


def _status(rng: random.Random, age_days: float) -> str:
    if age_days < 3:
        return rng.choice((*OPEN_STATUSES, "closed"))
    roll = rng.random()
    if roll < 0.03:
        return "rejected"
    if roll < 0.05:
        return rng.choice(OPEN_STATUSES)  # stuck: overdue
    return "closed"


def generate(count: int, *, seed: int, now: datetime) -> Iterator[tuple[tuple, tuple, list[tuple]]]:
    """(case row, report row, event rows) for ``count`` cases, oldest first (ids ascending)."""
    rng = random.Random(seed)
    span = timedelta(days=3 * 365).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(count))
    day_counters: dict[str, int] = {}
    event_id = 0
    for index, offset in enumerate(offsets):
        case_id = index + 1
        created = now - timedelta(seconds=span - offset)
        age_days = (now - created).total_seconds() / 86400
        status = _status(rng, age_days)
        code, category, department, hours = rng.choice(CATEGORIES)
        cell = rng.choice(CELLS)
        street, number = rng.choice(STREETS), rng.randint(1, 300)
        description = f"{street} {number} 号附近：{rng.choice(FINDINGS)}。"
        address = f"思明区{street} {number} 号"
        day = created.strftime("%Y%m%d")
        day_counters[day] = day_counters.get(day, 0) + 1
        lat, lon = round(rng.uniform(*AREA[0]), 6), round(rng.uniform(*AREA[1]), 6)
        steps = [*FLOW[:1], ("rejected", "triage", "rejected", "hong.yi", "dispatcher")]
        if status != "rejected":
            steps = FLOW[: STOP_AT[status]]
        times = [created]
        for position in range(1, len(steps)):
            pause = timedelta(milliseconds=rng.randint(50, 400)) if position == 1 else None
            times.append(times[-1] + (pause or timedelta(minutes=rng.randint(1, 600))))
        dispatched_at = times[1] if len(steps) > 1 and steps[1][0] == "dispatched" else None
        resolved_at = times[3] if len(steps) > 3 else None
        closed_at = times[4] if len(steps) > 4 else None
        events = []
        for (action, before, after, actor, role), at in zip(steps, times, strict=True):
            event_id += 1
            events.append((event_id, case_id, action, before, after, actor, role, None, "[]", "{}", at))
        case = (
            case_id, f"WG{day}-{day_counters[day]:04d}", status, code, category, "normal", hours,
            department if dispatched_at else None, DEPARTMENTS[department] if dispatched_at else None,
            cell, cell[:12], lat, lon, address, description, created, created, times[-1], dispatched_at,
            dispatched_at + timedelta(hours=hours) if dispatched_at else None,
            dispatched_at + timedelta(hours=hours * 0.8) if dispatched_at else None, resolved_at, closed_at,
            0, 1, len(steps),
        )  # fmt: skip
        report = (
            case_id, uuid.UUID(int=rng.getrandbits(128), version=4), case_id, "wang.fang", "app", code,
            description, lat, lon, "[]", created - timedelta(minutes=5), created, created,
        )  # fmt: skip
        yield case, report, events


async def load(dsn: str, count: int, *, seed: int, now: datetime | None = None, chunk: int = 50_000) -> dict:
    """COPY ``count`` cases (with a report and a timeline each) into an empty dispatch database."""
    now = now or datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    totals = {"cases": 0, "reports": 0, "events": 0}
    try:
        cases: list[tuple] = []
        reports: list[tuple] = []
        events: list[tuple] = []

        async def flush() -> None:
            await connection.copy_records_to_table("cases", records=cases, columns=CASE_COLUMNS)
            await connection.copy_records_to_table("case_reports", records=reports, columns=REPORT_COLUMNS)
            await connection.copy_records_to_table("case_events", records=events, columns=EVENT_COLUMNS)
            totals["cases"] += len(cases)
            totals["reports"] += len(reports)
            totals["events"] += len(events)
            cases.clear()
            reports.clear()
            events.clear()

        for case, report, timeline in generate(count, seed=seed, now=now):
            cases.append(case)
            reports.append(report)
            events.extend(timeline)
            if len(cases) >= chunk:
                await flush()
        await flush()
        for table in ("cases", "case_reports", "case_events"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        await connection.execute(
            "INSERT INTO case_number_counters (day, last) SELECT substr(case_number, 3, 8), count(*) "
            "FROM cases GROUP BY 1"
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return totals


def sample_ids(count: int, samples: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, count) for _ in range(samples)]


def describe() -> dict[str, Any]:
    return {"search_term": SEARCH_TERM, "cells": len(CELLS), "categories": len(CATEGORIES)}
