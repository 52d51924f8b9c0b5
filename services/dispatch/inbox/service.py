"""Taking ``report.received`` batches from intake: deduplicate, merge, register, route.

A batch is one transaction. Routing answers are fetched from grid before anything is
written, so a grid that is out of reach fails the whole batch with a 503 (the sender
retries later) and leaves nothing half-written. A redelivered report is a ``duplicate``;
a payload that does not validate is ``rejected`` for good.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.cases import repository, timeline
from services.dispatch.cases.lifecycle import FINISHED, Status
from services.dispatch.cases.service import assign
from services.dispatch.clients.grid import Category, GridClient, Route
from services.dispatch.inbox.merging import bounding_box, nearest_case
from services.dispatch.inbox.schemas import InboundReport
from services.dispatch.models import Case, CaseReport
from services.dispatch.settings import DispatchSettings
from shared.db import utcnow
from shared.errors import ServiceUnavailable
from shared.messages import REPORT_RECEIVED, InboxBatch, InboxReply, InboxResult, InboxStatus

REPORTER_ROLE = "reporter"


@dataclass
class Routing:
    """What grid said, fetched before writing: routes by (category, cell), catalog by category."""

    routes: dict[tuple[str, str], Route | None]
    categories: dict[str, Category | None]


async def handle_batch(
    session: AsyncSession, grid: GridClient, *, batch: InboxBatch, settings: DispatchSettings
) -> InboxReply:
    results: list[InboxResult | None] = []
    reports: list[tuple[int, InboundReport]] = []
    for index, message in enumerate(batch.messages):
        if message.topic != REPORT_RECEIVED:
            results.append(
                InboxResult(key=message.key, status=InboxStatus.rejected, detail="unexpected topic")
            )
            continue
        try:
            report = InboundReport.model_validate(message.payload)
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())[:500]
            results.append(InboxResult(key=message.key, status=InboxStatus.rejected, detail=detail))
            continue
        results.append(None)
        reports.append((index, report))

    known = await repository.known_report_ids(session, [r.report_id for _, r in reports])
    fresh: list[tuple[int, InboundReport]] = []
    seen: set[uuid.UUID] = set(known)
    for index, report in reports:
        if report.report_id in seen:
            key = batch.messages[index].key
            results[index] = InboxResult(key=key, status=InboxStatus.duplicate)
        else:
            seen.add(report.report_id)
            fresh.append((index, report))

    routing = await _ask_grid(grid, [report for _, report in fresh])
    try:
        for index, report in fresh:
            merged = await _merge(session, report, settings)
            if merged is None:
                await _register(session, report, routing, settings)
            results[index] = InboxResult(
                key=batch.messages[index].key,
                status=InboxStatus.accepted,
                detail=f"merged into case {merged}" if merged else None,
            )
    except IntegrityError as exc:  # another delivery of the same report won the race
        raise ServiceUnavailable("a concurrent delivery wrote one of these reports; retry") from exc
    return InboxReply(results=[r for r in results if r is not None])


async def _ask_grid(grid: GridClient, reports: list[InboundReport]) -> Routing:
    """Every routing and catalog answer the batch may need; PeerUnavailable fails the batch."""
    pairs = sorted({(r.category, r.grid_cell) for r in reports if r.category and r.grid_cell})
    codes = sorted({r.category for r in reports if r.category and not r.grid_cell})
    routes = await asyncio.gather(*(grid.resolve_route(category, cell) for category, cell in pairs))
    categories = await asyncio.gather(*(grid.category(code) for code in codes))
    return Routing(
        routes=dict(zip(pairs, routes, strict=True)), categories=dict(zip(codes, categories, strict=True))
    )


async def _merge(session: AsyncSession, report: InboundReport, settings: DispatchSettings) -> int | None:
    """Join the report to an open case of its category close in space and time; the case id."""
    if not report.category:
        return None
    window = timedelta(hours=settings.merge_window_hours)
    lat_range, lon_range = bounding_box(report.lat, report.lon, settings.merge_radius_meters)
    nearby = await repository.open_reports_near(
        session,
        category=report.category,
        seen_from=report.seen_at - window,
        seen_to=report.seen_at + window,
        lat_range=lat_range,
        lon_range=lon_range,
    )
    case_id = nearest_case(
        report.lat, report.lon, ((n.case_id, n.lat, n.lon) for n in nearby), settings.merge_radius_meters
    )
    if case_id is None:
        return None
    case = await repository.get(session, case_id, for_update=True)
    if case is None or case.status in FINISHED:
        return None
    now = utcnow()
    session.add(_case_report(report, case.id, now))
    case.report_count += 1
    case.version += 1
    case.updated_at = now
    await session.flush()
    await timeline.record(
        session,
        case,
        action="merged",
        from_status=case.status,
        actor=(report.reporter_id, REPORTER_ROLE),
        at=now,
        data={"report_id": str(report.report_id)},
    )
    return case.id


async def _register(
    session: AsyncSession, report: InboundReport, routing: Routing, settings: DispatchSettings
) -> Case:
    """Open a case for the report; dispatch it at once when grid names a department."""
    route = (
        routing.routes.get((report.category, report.grid_cell))
        if report.category and report.grid_cell
        else None
    )
    category = route.category if route else routing.categories.get(report.category or "")
    now = utcnow()
    case = Case(
        case_number=await repository.next_case_number(session, now.astimezone(ZoneInfo(settings.timezone))),
        status=Status.triage.value,
        category_code=report.category,
        category_name=category.name_zh if category else None,
        urgency=category.urgency if category else "normal",
        time_limit_hours=category.time_limit_hours if category else None,
        grid_cell=report.grid_cell,
        community=report.community,
        lat=report.lat,
        lon=report.lon,
        address=report.address,
        description=report.description,
        reported_at=report.seen_at,
        created_at=now,
        updated_at=now,
        rework_count=0,
        report_count=1,
        version=1,
    )
    session.add(case)
    await session.flush()
    session.add(_case_report(report, case.id, now))
    await session.flush()
    reporter = (report.reporter_id, REPORTER_ROLE)
    await timeline.record(session, case, action="registered", from_status=None, actor=reporter, at=now)
    if route is not None and route.department is not None:
        assign(
            case,
            department_code=route.department.code,
            department_name=route.department.name_zh,
            time_limit_hours=route.category.time_limit_hours,
            now=now,
        )
        case.version += 1
        await timeline.record(
            session,
            case,
            action="dispatched",
            from_status=Status.triage.value,
            actor=timeline.SYSTEM_ROUTER,
            at=now,
            data={
                "department_code": route.department.code,
                "source": route.source,
                "region_code": route.region_code,
            },
        )
    return case


def _case_report(report: InboundReport, case_id: int, now: datetime) -> CaseReport:
    return CaseReport(
        report_id=report.report_id,
        case_id=case_id,
        reporter_id=report.reporter_id,
        channel=report.channel,
        category=report.category,
        description=report.description,
        lat=report.lat,
        lon=report.lon,
        photos=list(report.photos),
        seen_at=report.seen_at,
        received_at=report.received_at,
        joined_at=now,
    )
