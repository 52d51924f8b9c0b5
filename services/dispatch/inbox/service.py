"""Taking ``report.received`` batches from intake: deduplicate, merge, register, route.

A batch is one transaction, written in a handful of round trips whatever its size: one
query for duplicates, routing answers from grid (cached; the distinct (category, cell)
pairs asked concurrently) before anything is written, one query for the open cases the
batch's reports may join, the decisions in memory (:mod:`planning`), one query locking the
cases they join, then bulk inserts of cases, reports, timeline events and outbox
messages. A grid out of reach fails the whole batch with a 503 (the sender retries later)
and leaves nothing half-written. A redelivered report is a ``duplicate``; a payload that
does not validate is ``rejected`` for good. A case routed to a department with no active
handler who can sign in is logged (a WARNING), from the routing answer grid gave (cached,
so up to ``routing_cache_seconds`` old): no more requests.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.calendar.service import Calendar
from services.dispatch.cases import repository as cases
from services.dispatch.cases.dispatching import unstaffed as unstaffed_warning
from services.dispatch.cases.lifecycle import FINISHED
from services.dispatch.clients.grid import GridClient
from services.dispatch.inbox import repository
from services.dispatch.inbox.planning import (
    NEW_CASE_KEY,
    Plan,
    Routing,
    Step,
    choose_cases,
    merge_area,
    plan_batch,
)
from services.dispatch.inbox.repository import NearbyReport
from services.dispatch.inbox.schemas import InboundReport
from services.dispatch.models import Case, CaseEvent, CaseReport, OutboxMessage
from services.dispatch.settings import DispatchSettings
from shared.db import after_commit, utcnow
from shared.errors import ServiceUnavailable
from shared.messages import (
    CASE_STATUS_CHANGED,
    REPORT_RECEIVED,
    CaseStatusChanged,
    InboxBatch,
    InboxReply,
    InboxResult,
    InboxStatus,
)

CASE_COLUMNS = [column.key for column in Case.__table__.columns if column.key != "id"]

log = logging.getLogger("wangge.dispatch.inbox")


async def handle_batch(
    session: AsyncSession,
    grid: GridClient,
    calendar: Calendar,
    *,
    batch: InboxBatch,
    settings: DispatchSettings,
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

    known = await cases.known_report_ids(session, [r.report_id for _, r in reports])
    fresh: list[tuple[int, InboundReport]] = []
    seen: set[uuid.UUID] = set(known)
    for index, report in reports:
        if report.report_id in seen:
            results[index] = InboxResult(key=batch.messages[index].key, status=InboxStatus.duplicate)
        else:
            seen.add(report.report_id)
            fresh.append((index, report))

    routing = await _ask_grid(grid, [report for _, report in fresh])
    try:
        plan = await _place(session, [report for _, report in fresh], routing, calendar, settings)
    except IntegrityError as exc:  # another delivery of the same report won the race
        raise ServiceUnavailable("a concurrent delivery wrote one of these reports; retry") from exc
    _warn_unstaffed(session, routing, plan)
    for (index, _), placement in zip(fresh, plan.placements, strict=True):
        results[index] = InboxResult(
            key=batch.messages[index].key,
            status=InboxStatus.accepted,
            detail=f"merged into case {placement.case.id}" if placement.merged else None,
        )
    return InboxReply(results=[r for r in results if r is not None])


async def _ask_grid(grid: GridClient, reports: list[InboundReport]) -> Routing:
    """Every routing and catalog answer the batch may need; PeerUnavailable fails the batch."""
    pairs = sorted({(r.category, r.grid_cell) for r in reports if r.category and r.grid_cell})
    codes = sorted({r.category for r in reports if r.category and not r.grid_cell})
    routes, categories = await asyncio.gather(
        grid.resolve_routes(pairs), asyncio.gather(*(grid.category(code) for code in codes))
    )
    # A cell grid does not know has no route, and its answer no category: the triage case
    # still takes the category's name, urgency and time limit from the catalog.
    unrouted = sorted({category for category, cell in pairs if routes[category, cell] is None} - set(codes))
    more = await asyncio.gather(*(grid.category(code) for code in unrouted))
    return Routing(
        routes={(category, cell): routes[category, cell] for category, cell in pairs},
        categories=dict(zip([*codes, *unrouted], [*categories, *more], strict=True)),
    )


def _warn_unstaffed(session: AsyncSession, routing: Routing, plan: Plan) -> None:
    """Log each case the batch routed to a department grid counted no active handler in, once
    the batch has committed."""
    unstaffed = {
        route.department.code: unstaffed_warning(route.department.code, route.department.name_zh)
        for route in routing.routes.values()
        if route is not None and route.department is not None and route.department.active_handlers == 0
    }
    if not unstaffed:
        return
    for step in plan.steps:
        warning = unstaffed.get(step.department_code or "") if step.action == "dispatched" else None
        if warning is not None:
            after_commit(
                session,
                partial(
                    log.warning, "case %s dispatched by %s: %s", step.case.case_number, step.actor[0], warning
                ),
            )


async def _place(
    session: AsyncSession,
    reports: list[InboundReport],
    routing: Routing,
    calendar: Calendar,
    settings: DispatchSettings,
) -> Plan:
    """Read the open cases the reports may join, decide in memory, write it all in bulk."""
    await repository.serialize_placement(session)
    radius, window = settings.merge_radius_meters, settings.merge_window_hours
    areas = [a for a in (merge_area(r, radius_m=radius, window_hours=window) for r in reports) if a]
    nearby = await repository.open_reports_in(session, areas)
    keys, open_cases = await _choose_and_lock(session, reports, nearby, radius_m=radius, window_hours=window)
    working_time = await calendar.working_time(session)
    now = utcnow()
    plan = plan_batch(
        reports, keys=keys, routing=routing, open_cases=open_cases, now=now, working_time=working_time
    )
    stamp = now.astimezone(ZoneInfo(settings.timezone)).strftime("%Y%m%d")
    numbers = await repository.draw_case_numbers(session, stamp, len(plan.new_cases))
    for case, number in zip(plan.new_cases, numbers, strict=True):
        case.case_number = f"WG{stamp}-{number:04d}"
    rows = [{key: getattr(case, key) for key in CASE_COLUMNS} for case in plan.new_cases]
    for case, case_id in zip(
        plan.new_cases, await repository.insert_returning_ids(session, Case, rows), strict=True
    ):
        case.id = case_id
    await repository.insert_rows(
        session, CaseReport, [_report_row(p.report, p.case.id, now) for p in plan.placements]
    )
    events: list[dict[str, Any]] = [
        {
            "case_id": step.case.id,
            "action": step.action,
            "from_status": step.from_status,
            "to_status": step.to_status,
            "actor_id": step.actor[0],
            "actor_role": step.actor[1],
            "note": None,
            "photos": [],
            "data": step.data,
            "at": now,
        }
        for step in plan.steps
    ]
    event_ids = await repository.insert_returning_ids(session, CaseEvent, events)
    messages = [
        _message_row(step.case, step, event_id, now)
        for step, event_id in zip(plan.steps, event_ids, strict=True)
        if step.announced
    ]
    await repository.insert_rows(session, OutboxMessage, messages)
    joined = {p.case.id: p.case for p in plan.placements if p.merged and p.case.id in open_cases}
    await repository.store_joined(session, list(joined.values()))
    return plan


async def _choose_and_lock(
    session: AsyncSession,
    reports: list[InboundReport],
    nearby: list[NearbyReport],
    *,
    radius_m: float,
    window_hours: float,
) -> tuple[list[int], dict[int, Case]]:
    """The case each report joins (:func:`choose_cases`), and the open cases among them locked.

    Only the cases the batch joins are locked, not every case near it: a dispatcher working on
    a case a batch merely passes near is not kept waiting (nor the batch by them), and fewer
    rows are locked and loaded (a batch of 190 reports locked 430 cases in the benchmark).
    ``nearby`` was read without locks, so a case may have been closed since: it leaves the
    candidates and the batch is chosen again, until every case chosen is locked and open (a
    closed case found that way stays locked until the batch commits). A later round may lock
    a lower id than an earlier one; batches take turns under
    :func:`~repository.serialize_placement`, and the console's commands lock one case each,
    but for a rejection as a duplicate, which locks its case and then the original: meeting a
    batch that locks them the other way round, one of the two is aborted by PostgreSQL, a 503
    (the relay delivers the batch again, the dispatcher retries).
    (A case reopened after the read is no candidate: its would-be joiners go elsewhere.)
    """
    locked: dict[int, Case] = {}
    finished: set[int] = set()
    while True:
        candidates = [n for n in nearby if n.case_id not in finished]
        keys = choose_cases(reports, nearby=candidates, radius_m=radius_m, window_hours=window_hours)
        wanted = {key for key in keys if key < NEW_CASE_KEY} - locked.keys()
        if not wanted:
            return keys, locked
        for case in await repository.lock_cases(session, sorted(wanted)):
            if case.status not in FINISHED:
                locked[case.id] = case
        if wanted <= locked.keys():  # the candidates stand, and so does the choice
            return keys, locked
        finished |= wanted - locked.keys()  # closed since (or gone: cases are not deleted)


def _report_row(report: InboundReport, case_id: int, now: datetime) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "case_id": case_id,
        "reporter_id": report.reporter_id,
        "channel": report.channel,
        "category": report.category,
        "description": report.description,
        "address": report.address,
        "lat": report.lat,
        "lon": report.lon,
        "photos": list(report.photos),
        "seen_at": report.seen_at,
        "received_at": report.received_at,
        "joined_at": now,
    }


def _message_row(case: Case, step: Step, event_id: int, now: datetime) -> dict[str, Any]:
    message = CaseStatusChanged(
        event_id=event_id,
        case_id=case.id,
        case_number=case.case_number,
        action=step.action,
        status=step.to_status,
        department_code=step.department_code,
        department_name=step.department_name,
        note=None,
        deadline_at=step.deadline_at,
        occurred_at=now,
        report_ids=step.report_ids,
    )
    return {
        "topic": CASE_STATUS_CHANGED,
        "key": f"{case.id}:{event_id}",
        "payload": message.model_dump(mode="json"),
        "created_at": now,
        "available_at": now,
        "attempts": 0,
    }
