"""Placing a batch in memory: which report joins which case, against the plain definition."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.dispatch.calendar.working_time import WorkingTime
from services.dispatch.inbox.merging import nearest_case
from services.dispatch.inbox.planning import Routing, choose_cases, plan_batch
from services.dispatch.inbox.repository import NearbyReport, utc_days
from services.dispatch.inbox.schemas import InboundReport
from services.dispatch.models import Case
from services.dispatch.settings import DispatchSettings
from tests.dispatch import factories

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
NEW = 1_000_000
"""Cases a batch opens are numbered from here in the expectations (open ones keep their ids)."""
NO_ROUTES = Routing(routes={}, categories={})


def inbound(lat: float, lon: float, category: str, minutes_ago: int = 1) -> InboundReport:
    seen = NOW - timedelta(minutes=minutes_ago)
    return InboundReport.model_validate(
        factories.report(lat=lat, lon=lon, category=category, seen_at=seen.isoformat())
    )


def expected_cases(
    reports: list[InboundReport],
    *,
    radius_m: float,
    window_hours: float,
    nearby: Sequence[NearbyReport] = (),
) -> list[int]:
    """The definition, spelled out: each report in turn joins the case of the nearest report
    (on an open case, or earlier in the batch) of its category seen within the window and
    lying within the radius, else opens a new case (numbered from NEW)."""
    placed = [(n.category, n.seen_at, n.lat, n.lon, n.case_id) for n in nearby]
    opened = 0
    cases: list[int] = []
    for report in reports:
        window = timedelta(hours=window_hours)
        candidates = [
            (case, lat, lon)
            for category, seen_at, lat, lon, case in placed
            if category == report.category and abs(seen_at - report.seen_at) <= window
        ]
        case = nearest_case(report.lat, report.lon, candidates, radius_m)
        if case is None:
            case, opened = NEW + opened, opened + 1
        cases.append(case)
        placed.append((report.category, report.seen_at, report.lat, report.lon, case))
    return cases


def planned_cases(
    reports: list[InboundReport],
    *,
    radius_m: float,
    window_hours: float,
    nearby: Sequence[NearbyReport] = (),
) -> list[int]:
    keys = choose_cases(reports, nearby=nearby, radius_m=radius_m, window_hours=window_hours)
    open_cases = {
        n.case_id: Case(id=n.case_id, status="dispatched", report_count=1, version=1) for n in nearby
    }
    plan = plan_batch(
        reports,
        keys=keys,
        routing=NO_ROUTES,
        open_cases=open_cases,
        now=NOW,
        working_time=WorkingTime.round_the_clock(ZoneInfo("UTC")),
    )
    numbering = {id(case): NEW + i for i, case in enumerate(plan.new_cases)}
    return [numbering.get(id(p.case), p.case.id) for p in plan.placements]


@pytest.mark.parametrize("radius_m", [0.0, 15.0, 50.0, 400.0])
def test_a_batch_is_placed_as_the_definition_says(radius_m: float) -> None:
    rng = random.Random(7)
    reports = [
        inbound(
            24.45 + rng.uniform(0, 0.004),
            118.07 + rng.uniform(0, 0.004),
            rng.choice(["0501", "0502", "0601"]),
            minutes_ago=rng.randint(1, 600),
        )
        for _ in range(400)
    ]
    reports += [inbound(r.lat, r.lon, r.category or "", minutes_ago=5) for r in reports[:20]]  # same spots
    expected = expected_cases(reports, radius_m=radius_m, window_hours=4)
    assert planned_cases(reports, radius_m=radius_m, window_hours=4) == expected
    assert len(set(expected)) < len(reports)  # some reports did join a case


def open_cases_around(rng: random.Random) -> tuple[list[NearbyReport], list[InboundReport]]:
    """200 reports of open cases 1–60 read near a batch, and the batch: 200 reports in the
    same 400 m square, of two categories."""
    nearby = [
        NearbyReport(
            case_id=rng.randint(1, 60),
            category=rng.choice(["0501", "0502"]),
            seen_at=NOW - timedelta(minutes=rng.randint(1, 600)),
            lat=24.45 + rng.uniform(0, 0.004),
            lon=118.07 + rng.uniform(0, 0.004),
        )
        for _ in range(200)
    ]
    reports = [
        inbound(24.45 + rng.uniform(0, 0.004), 118.07 + rng.uniform(0, 0.004), rng.choice(["0501", "0502"]))
        for _ in range(200)
    ]
    return nearby, reports


def test_open_cases_nearby_are_joined_as_the_definition_says() -> None:
    nearby, reports = open_cases_around(random.Random(11))
    expected = expected_cases(reports, radius_m=50, window_hours=4, nearby=nearby)
    assert planned_cases(reports, radius_m=50, window_hours=4, nearby=nearby) == expected
    assert any(case < NEW for case in expected) and any(case >= NEW for case in expected)


def test_a_report_joins_across_a_band_of_latitude() -> None:
    # 0.0004° of latitude is 44 m: within 50 m whatever band boundary lies between them
    for base in (24.45, 24.450449, 24.4504495, -33.9):
        first, second = inbound(base, 118.08, "0501"), inbound(base + 0.0004, 118.08, "0501")
        assert planned_cases([first, second], radius_m=50, window_hours=4) == [NEW, NEW]
        assert planned_cases([second, first], radius_m=50, window_hours=4) == [NEW, NEW]


def test_the_utc_days_a_window_touches() -> None:
    shanghai = timezone(timedelta(hours=8))
    start = datetime(2026, 11, 28, 6, 0, tzinfo=shanghai)  # 22:00 UTC the day before
    assert utc_days(start, start + timedelta(hours=1)) == [date(2026, 11, 27)]
    assert utc_days(start, start + timedelta(hours=8)) == [date(2026, 11, 27), date(2026, 11, 28)]
    assert len(utc_days(start, start + timedelta(hours=50))) == 4


def test_a_merge_window_longer_than_a_week_is_refused() -> None:
    assert DispatchSettings(client_secret="unused", merge_window_hours=168).merge_window_hours == 168
    with pytest.raises(ValidationError, match="merge_window_hours"):
        DispatchSettings(client_secret="unused", merge_window_hours=169)
