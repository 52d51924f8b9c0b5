"""The figures a supervisor is judged by (考核): closure, on-time closure, rework and
satisfaction rates of the cases registered in a period, by department, or, to find the hot
spots (热点), by category, community or grid cell.

Computed from the cases and their timeline when asked: a case counts in the period it was
registered in, under the department it is with now, as it stands now. On time means every
``resolved`` event of that department came before the deadline then in force (the event
records both), and reworked that a check or a rating sent that department's handling back: a
department the case left is not charged to the next. A case still open is not closed on time,
however young.

Grouped otherwise, each case counts the same (on time and reworked still of the department it is
with), under its category, community or cell: the groups are those with cases only (a catalog
has hundreds of categories; an assessment table names every department, not every category),
the most cases first. ``department=`` narrows them to that department's cases: what it handles.
A community or a cell is named as grid names it (dispatch keeps only its code).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import access
from services.dispatch.clients.grid import DepartmentRef, GridClient, RegionLevel
from services.dispatch.figures import repository
from services.dispatch.figures.repository import Counts, Grouping
from services.dispatch.figures.schemas import (
    DepartmentFigures,
    Figures,
    FiguresRead,
    GroupedFiguresRead,
    GroupFigures,
)
from shared.actors import Actor, Role
from shared.db import utcnow
from shared.errors import NotFound, Unprocessable, WanggeError

log = logging.getLogger("wangge.dispatch.figures")

MAX_PERIOD_DAYS = 366
REGION_LEVELS: dict[Grouping, RegionLevel] = {"community": "community", "grid_cell": "cell"}
"""The groupings by region, and the level of grid's regions that names their groups."""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(counts: list[Counts]) -> Figures:
    def total(name: str) -> int:
        return sum(getattr(c, name) for c in counts)

    cases, rejected, rated = total("cases"), total("rejected"), total("rated")
    to_close = cases - rejected
    return Figures(
        cases=cases,
        rejected=rejected,
        to_close=to_close,
        closed=total("closed"),
        closed_on_time=total("closed_on_time"),
        reworked=total("reworked"),
        overdue=total("overdue"),
        urged=total("urged"),
        rated=rated,
        satisfied=total("satisfied"),
        unsatisfied=total("unsatisfied"),
        mean_rating=round(total("rating_sum") / rated, 2) if rated else None,
        closure_rate=_rate(total("closed"), to_close),
        on_time_closure_rate=_rate(total("closed_on_time"), to_close),
        rework_rate=_rate(total("reworked"), to_close),
        satisfaction_rate=_rate(total("satisfied"), rated),
    )


async def _with_every_department(
    counts: list[Counts], grid: GridClient, *, actor: Actor, department: str | None
) -> list[Counts]:
    """The departments with cases, and every other the actor's figures cover with none (an
    assessment table names each department, a zero too), in code order, the cases with no
    department last. Without grid (out of reach) only those with cases: the figures still
    answer, from dispatch's own data."""
    try:
        known = await grid.departments()
    except WanggeError as error:
        log.warning("figures without the departments that had no case: %s", error)
        known = None
    found = {c.key for c in counts}
    unknown = known is not None and department not in {d.code for d in known}
    if known is not None and department is not None and department not in found and unknown:
        retired = await _retired(grid, department)  # or a typo, read as "no cases": a 404
        known = [*known, retired] if retired else known

    def named(code: str) -> bool:
        """Asked for (``department``) and covered: a handler's figures count only their own
        department's cases, so another's zeros would be no answer but a wrong one."""
        mine = actor.role is not Role.handler or code == actor.department
        return mine and (department is None or code == department)

    empty = [
        Counts(d.code, d.name_zh, *([0] * 11)) for d in known or [] if d.code not in found and named(d.code)
    ]
    return sorted([*counts, *empty], key=lambda c: (c.key is None, c.key or ""))


def _hot_first(counts: list[Counts]) -> list[Counts]:
    """The groups with the most cases first (the hot spots), then by key; the cases with none last."""
    return sorted(counts, key=lambda c: (c.key is None, -c.cases, c.key or ""))


async def _named(counts: list[Counts], grid: GridClient, *, by: Grouping) -> list[Counts]:
    """Each community or cell with grid's name for it (its list, kept a minute); unnamed, one
    grid does not know, or every one while grid is out of reach: the figures still answer."""
    level = REGION_LEVELS.get(by)
    if level is None or not any(c.key for c in counts):
        return counts
    try:
        names = await grid.region_names(level)
    except WanggeError as error:
        log.warning("figures by %s without the regions' names: %s", by, error)
        return counts
    return [dataclasses.replace(c, name=names.get(c.key)) if c.key else c for c in counts]


async def _known(grid: GridClient, department: str | None, *, counted: bool) -> None:
    """A 404 for a ``department`` grid knows neither in use nor retired, as the figures by
    department answer it; one with cases is known. Grid out of reach: answered, with no cases."""
    if department is None or counted:
        return
    try:
        known = await grid.departments()
    except WanggeError as error:
        log.warning("figures without checking department %s: %s", department, error)
        return
    if department not in {d.code for d in known}:
        await _retired(grid, department)


async def _retired(grid: GridClient, code: str) -> DepartmentRef | None:
    """A department grid does not list, asked for by code: a retired one (its zeros), or a 404;
    None while grid is out of reach (the figures answer from dispatch's cases alone)."""
    try:
        department = await grid.department(code)
    except WanggeError as error:
        log.warning("figures without the departments that had no case: %s", error)
        return None
    if department is None:
        raise NotFound(f"no department {code}")
    return department


def period(since: date | None, until: date | None, zone: ZoneInfo, now: datetime) -> tuple[date, date]:
    """The period asked, by default the month so far (in the office's time zone); 422 when it
    ends before it starts or is longer than :data:`MAX_PERIOD_DAYS`. (Days outside 1970 to
    9000, whose midnight some zones cannot put in UTC, are refused as ``shared.schemas.Day``.)"""
    today = now.astimezone(zone).date()
    asked_since, asked_until = since, until
    since = since or today.replace(day=1)
    until = until or today + timedelta(days=1)
    if until <= since:
        # Name a bound the client left out as the default it was: it did not send it.
        since_said = f"{since}" if asked_since else f"{since}, by default the month's first"
        until_said = f"{until}" if asked_until else f"{until}, by default tomorrow"
        raise Unprocessable(
            f"until ({until_said}) must come after since ({since_said}): until is the day after the last"
        )
    if (until - since).days > MAX_PERIOD_DAYS:
        raise Unprocessable(f"a period is at most {MAX_PERIOD_DAYS} days: ask for a year at a time")
    return since, until


async def figures(
    session: AsyncSession,
    grid: GridClient,
    *,
    actor: Actor,
    since: date | None,
    until: date | None,
    department: str | None,
    timezone: str,
    by: Grouping = "department",
) -> FiguresRead | GroupedFiguresRead:
    zone, now = ZoneInfo(timezone), utcnow()
    first, after = period(since, until, zone, now)
    counts = await repository.counts(
        session,
        registered_from=datetime.combine(first, time.min, zone),
        registered_to=datetime.combine(after, time.min, zone),
        scope=access.figures_scope(actor),
        department=department,
        now=now,
        by=by,
    )
    if by != "department":
        await _known(grid, department, counted=bool(counts))
        counts = await _named(counts, grid, by=by)
        return GroupedFiguresRead(
            since=first,
            until=after,
            timezone=timezone,
            by=by,
            total=_figures(counts),
            groups=[
                GroupFigures(key=c.key, name=c.name, **_figures([c]).model_dump()) for c in _hot_first(counts)
            ],
        )
    counts = await _with_every_department(counts, grid, actor=actor, department=department)
    return FiguresRead(
        since=first,
        until=after,
        timezone=timezone,
        total=_figures(counts),
        departments=[
            DepartmentFigures(
                department_code=c.key,
                department_name=c.name,
                **_figures([c]).model_dump(),
            )
            for c in counts
        ],
    )
