"""The grid workers' daily log (民情日志): what each patrolled and found in one of their cells
on an office day, the residents' concerns they heard, the households they visited.

One entry per author, cell and day: a second is a 409 naming the first, so a phone that lost
the answer to its create learns the entry's id instead of writing it twice (the entry's
natural key serves as an ``Idempotency-Key`` would). The author alone corrects
it, on its day and the next (:mod:`services.grid.logbook.rules`); after that it is kept.

Who writes and reads is the access table's (``services/grid/access.py``) and
:func:`_scope`'s: grid reads the reader's assignments as they stand now, not as their token
carried them at sign-in, so a leader moved to another community reads its logs at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import anyio.to_thread
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.logbook import export, repository, rules
from services.grid.logbook.schemas import (
    LogFigures,
    LogFiguresRead,
    MissingPage,
    MissingRead,
    PatrolLogCreate,
    PatrolLogPage,
    PatrolLogRead,
    PatrolLogUpdate,
    PersonFigures,
)
from services.grid.models import PatrolLog, Staff
from services.grid.pagination import keyset_page
from services.grid.staff import repository as staff
from services.grid.staff.rules import StaffRole
from shared.actors import Actor, Role
from shared.db import flush_new, utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.etags import require_if_match
from shared.regions import holds
from shared.schemas import Day, RowId, decode_cursor, encode_cursor

log = logging.getLogger("wangge.grid.logbook")


class _Position(BaseModel):
    """The last entry of the page before (the list runs newest day first)."""

    day: Day
    id: RowId


def read(entry: PatrolLog) -> PatrolLogRead:
    return PatrolLogRead(
        id=entry.id,
        author=entry.author,
        day=entry.day,
        grid_cell=entry.grid_cell,
        patrol=entry.patrol,
        concerns=list(entry.concerns),
        households_visited=entry.households_visited,
        report_ids=list(entry.report_ids),
        editable_until=rules.last_editable_day(entry.day),
        created_at=entry.created_at,
        updated_at=entry.updated_at,
    )


def url(log_id: int) -> str:
    return f"/v1/patrol-logs/{log_id}"


async def _scope(session: AsyncSession, actor: Actor) -> ColumnElement[bool]:
    """What of the logs ``actor`` may read: the office all, a leader their communities' cells,
    a writer their own."""
    if actor.role in rules.OFFICE:
        return true()
    if actor.role is Role.grid_leader:
        return repository.within(PatrolLog.grid_cell, await repository.assigned_regions(session, actor.id))
    return PatrolLog.author == actor.id


def _sees(actor: Actor, entry: PatrolLog, regions: Sequence[str]) -> bool:
    if actor.role in rules.OFFICE:
        return True
    if actor.role is Role.grid_leader:
        return any(holds(region, entry.grid_cell) for region in regions)
    return entry.author == actor.id


async def get_log(session: AsyncSession, *, log_id: int, actor: Actor) -> PatrolLog:
    """The entry, or a 404 when there is none or it is not the reader's to read (its existence
    is not revealed)."""
    entry = await repository.get(session, log_id)
    regions = await repository.assigned_regions(session, actor.id) if actor.role is Role.grid_leader else []
    if entry is None or not _sees(actor, entry, regions):
        raise NotFound(f"no patrol log {log_id}")
    return entry


async def create_log(
    session: AsyncSession, *, data: PatrolLogCreate, actor: Actor, timezone: str
) -> PatrolLog:
    today = rules.office_today(utcnow(), timezone)
    day = data.day or today
    problem = rules.writing_problem(day, today)
    if problem:
        raise Unprocessable(problem, field="day")
    cells = await repository.assigned_regions(session, actor.id)  # none once deactivated
    if data.grid_cell not in cells:
        if not cells:
            await _still_active(session, actor)
        yours = f"yours: {', '.join(cells)}" if cells else "you are assigned none; ask an admin"
        raise Unprocessable(f"you are not assigned grid cell {data.grid_cell} ({yours})", field="grid_cell")
    existing = await repository.find(session, author=actor.id, day=day, grid_cell=data.grid_cell)
    if existing is not None:
        raise _written(existing)
    now = utcnow()
    entry = PatrolLog(
        author=actor.id,
        day=day,
        grid_cell=data.grid_cell,
        patrol=data.patrol,
        concerns=data.concerns,
        households_visited=data.households_visited,
        report_ids=[str(report_id) for report_id in data.report_ids],
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(entry)
    if not await flush_new(session):  # the same entry written by a concurrent request
        raise Conflict(
            f"your log of grid cell {data.grid_cell} for {day} is being written by another request; "
            "retry to be told its id"
        )
    log.info("patrol log %s written by %s: cell %s, %s", entry.id, actor.id, entry.grid_cell, day)
    return entry


async def _still_active(session: AsyncSession, actor: Actor) -> None:
    """403 to a writer an admin has deactivated since their token was issued."""
    if not await repository.is_active(session, actor.id):
        raise Forbidden(f"{actor.id} is deactivated: a log is written by active staff only")


def _written(existing: PatrolLog) -> Conflict:
    return Conflict(
        f"you have written the log of grid cell {existing.grid_cell} for {existing.day} already: "
        f"{url(existing.id)}; correct it there (PATCH with its ETag as If-Match)",
        log_id=existing.id,
        log_url=url(existing.id),
    )


async def update_log(
    session: AsyncSession,
    *,
    log_id: int,
    data: PatrolLogUpdate,
    if_match: str | None,
    actor: Actor,
    timezone: str,
) -> PatrolLog:
    """The author's correction, on the entry's day or the next; nobody else's (the entry is not
    theirs to read: a 404)."""
    entry = await repository.get(session, log_id, for_update=True)
    if entry is None or entry.author != actor.id:
        raise NotFound(f"no patrol log {log_id}")
    await _still_active(session, actor)
    problem = rules.correction_problem(entry.day, rules.office_today(utcnow(), timezone))
    if problem:
        raise Conflict(problem, editable_until=rules.last_editable_day(entry.day).isoformat())
    require_if_match(if_match, entry.version)
    changes = data.model_dump(exclude_unset=True)
    if not changes:  # nothing to correct: the same entry, the same version
        return entry
    if "report_ids" in changes:
        changes["report_ids"] = [str(report_id) for report_id in changes["report_ids"]]
    for field, value in changes.items():
        setattr(entry, field, value)
    entry.version += 1
    entry.updated_at = utcnow()
    await session.flush()
    return entry


async def list_logs(
    session: AsyncSession,
    *,
    actor: Actor,
    day: date | None,
    filters: repository.LogFilters,
    limit: int,
    cursor: str | None,
) -> PatrolLogPage:
    after = None
    if cursor is not None:
        position = decode_cursor(cursor, _Position)
        after = (position.day, position.id)
    statement = await _listed(session, actor=actor, day=day, filters=filters)
    rows = await repository.page(session, statement, after=after, limit=limit)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(_Position(day=rows[-1].day, id=rows[-1].id))
    return PatrolLogPage(items=[read(row) for row in rows], next_cursor=next_cursor)


async def export_logs(
    session: AsyncSession, *, actor: Actor, day: date | None, filters: repository.LogFilters, timezone: str
) -> str:
    """The ledger (台账): every entry the list's pages would hold, in their order, as CSV (one
    query, one snapshot); more than :data:`export.MAX_EXPORT_ROWS` is a 422 asking for a
    shorter period."""
    statement = await _listed(session, actor=actor, day=day, filters=filters)
    rows = await repository.page(session, statement, after=None, limit=export.MAX_EXPORT_ROWS)
    if len(rows) > export.MAX_EXPORT_ROWS:
        raise Unprocessable(
            f"the list holds more than {export.MAX_EXPORT_ROWS:,} entries, the most one file takes: "
            "ask for a shorter period (since, until) or one community, and export each part"
        )
    cells = await repository.region_names(session, {row.grid_cell for row in rows})
    people = await repository.staff_names(session, {row.author for row in rows})
    # off the event loop, as dispatch writes its files
    return await anyio.to_thread.run_sync(
        partial(export.logs_csv, rows, cells=cells, people=people, zone=ZoneInfo(timezone))
    )


async def _listed(
    session: AsyncSession, *, actor: Actor, day: date | None, filters: repository.LogFilters
) -> Select[PatrolLog]:
    """The list's statement: the filters (``day`` one office day, or a period) within what
    ``actor`` may read."""
    problem = rules.period_problem(day, filters.since, filters.until)
    if problem:
        raise Unprocessable(problem)
    if day is not None:
        filters = replace(filters, since=day, until=day + timedelta(days=1))
    return repository.list_statement(filters, scope=await _scope(session, actor))


async def missing(
    session: AsyncSession,
    *,
    actor: Actor,
    day: date | None,
    community: str | None,
    timezone: str,
    limit: int,
    cursor: str | None,
) -> MissingPage:
    """Who has not logged ``day`` (default today): the active grid workers and assistants in the
    reader's scope assigned at least one cell, with no entry that day (one entry, for any of
    their cells, counts as logged). Assignments and who is active are as they stand now."""
    today = rules.office_today(utcnow(), timezone)
    day = day or today
    if day > today:
        raise Unprocessable(f"{day} is after today ({today}): nobody has logged it yet", field="day")
    regions = None
    if actor.role is Role.grid_leader:
        regions = await repository.assigned_regions(session, actor.id)
    statement = repository.missing_statement(day, regions=regions, community=community)
    rows, next_cursor = await keyset_page(session, statement, key=Staff.username, limit=limit, cursor=cursor)
    cells = await staff.region_codes(session, [s.id for s in rows])
    items = [
        MissingRead(
            username=s.username,
            name=s.name,
            role=StaffRole(s.role),
            phone=s.phone,
            grid_cells=sorted(cells.get(s.id, [])),
        )
        for s in rows
    ]
    return MissingPage(day=day, items=items, next_cursor=next_cursor)


async def figures(
    session: AsyncSession,
    *,
    actor: Actor,
    since: date | None,
    until: date | None,
    community: str | None,
    timezone: str,
) -> LogFiguresRead:
    """The monthly figures (网格员考核): each person's sums over the period's entries the reader
    may read (a leader: of their communities' cells, whoever wrote them; the office: all). The
    people are those :func:`missing` checks (active, assigned a cell in scope, as they stand
    now), with zeros when they logged nothing, and anyone else whose entries are counted: one
    who has left, or moved to another community, since, is still assessed for what they wrote.
    One GROUP BY over the period (at most a year; a subdistrict's month is a few thousand
    entries) and one query for the people; no query per person."""
    first, after, problem = rules.figures_period(since, until, rules.office_today(utcnow(), timezone))
    if problem:
        raise Unprocessable(problem)
    regions = None
    if actor.role is Role.grid_leader:
        regions = await repository.assigned_regions(session, actor.id)
    counts = {
        c.author: c
        for c in await repository.figures_counts(session, first, after, regions=regions, community=community)
    }
    people = await repository.figures_people(session, first, after, regions=regions, community=community)
    cells = await staff.region_codes(session, [s.id for s in people])
    rows = [
        PersonFigures(
            username=s.username,
            name=s.name,
            role=StaffRole(s.role),
            grid_cells=cells.get(s.id, []),
            **_sums([counts[s.username]] if s.username in counts else []).model_dump(),
        )
        for s in people
    ]
    listed = [counts[s.username] for s in people if s.username in counts]
    return LogFiguresRead(since=first, until=after, timezone=timezone, people=rows, total=_sums(listed))


def _sums(counts: Sequence[repository.AuthorCounts]) -> LogFigures:
    """The sums of ``counts`` (none: zeros); days are summed per person (person-days)."""
    return LogFigures(
        days_logged=sum(c.days_logged for c in counts),
        entries=sum(c.entries for c in counts),
        households_visited=sum(c.households_visited for c in counts),
        concerns=sum(c.concerns for c in counts),
        last_day=max((c.last_day for c in counts), default=None),
    )
