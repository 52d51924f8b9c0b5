"""The working calendar: the year's holidays and make-up days an admin sets, and the working
time deadlines count on (:class:`Calendar`)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.calendar import repository
from services.dispatch.calendar.schemas import CalendarYearRead, CalendarYearWrite, DayKind
from services.dispatch.calendar.working_time import WorkingTime
from services.dispatch.models import CalendarDay, CalendarYear
from services.dispatch.settings import DispatchSettings
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import PreconditionFailed, Unprocessable
from shared.etags import require_if_match


class Calendar:
    """The working time deadlines count on: the settings' week, less the calendar's holidays,
    plus its make-up working days. One per process; it reads the days again when
    ``calendar_cache_seconds`` have passed, and at once after this process changed them."""

    def __init__(self, settings: DispatchSettings) -> None:
        self._week = settings.working_time()
        self._settings = settings
        self._current: WorkingTime | None = None
        self._read_at = 0.0
        self._changes = 0
        """how often this process changed the calendar: a read begun before a change is not kept"""

    async def working_time(self, session: AsyncSession) -> WorkingTime:
        if self._current is None or time.monotonic() - self._read_at >= self._settings.calendar_cache_seconds:
            changes, read_at = self._changes, time.monotonic()
            yesterday = utcnow().astimezone(self._week.zone).date() - timedelta(days=1)
            days = await repository.days_from(session, yesterday)
            current = self._week.with_days(
                holidays=(d.day for d in days if d.kind == DayKind.holiday),
                workdays=(d.day for d in days if d.kind == DayKind.workday),
            )
            # A change committed while the days were read (its forget() came meanwhile) may be
            # missing from them: this request counts what it read, the next one reads again.
            if changes != self._changes:
                return current
            self._current, self._read_at = current, read_at
        return self._current

    def forget(self) -> None:
        self._changes += 1
        self._current = None


async def read_year(session: AsyncSession, settings: DispatchSettings, number: int) -> CalendarYearRead:
    found = await repository.year(session, number)
    days = await repository.days_of(session, number) if found else []
    return CalendarYearRead(
        year=number,
        timezone=settings.timezone,
        working_hours=settings.working_hours,
        working_weekdays=settings.working_weekdays,
        days=days,  # type: ignore[arg-type]  # read from attributes
        version=found.version if found else 0,
        updated_at=found.updated_at if found else None,
        updated_by=found.updated_by if found else None,
    )


async def set_year(
    session: AsyncSession,
    calendar: Calendar,
    settings: DispatchSettings,
    *,
    number: int,
    body: CalendarYearWrite,
    if_match: str | None,
    actor: Actor,
) -> CalendarYearRead:
    """Replace the year's days. ``If-Match`` names the version read (``"0"`` for a year never
    set). Deadlines already given stay as they are; cases dispatched from now on count the
    new days."""
    outside = [item.day.isoformat() for item in body.days if item.day.year != number]
    if outside:
        raise Unprocessable(f"days outside {number}: {', '.join(outside[:5])}")
    found = await repository.year(session, number, for_update=True)
    require_if_match(if_match, found.version if found else 0)
    now = utcnow()
    if found is None:
        found = CalendarYear(year=number, version=0)
        session.add(found)
    found.version += 1
    found.updated_at = now
    found.updated_by = actor.id
    try:
        await session.flush()  # the year's row first: its days refer to it
        await repository.replace_days(
            session,
            number,
            [
                CalendarDay(day=item.day, year=number, kind=item.kind.value, name=item.name)
                for item in body.days
            ],
        )
    except IntegrityError as exc:  # another admin set the year first, from version 0 too
        raise PreconditionFailed("the year was set meanwhile; read it again and retry") from exc
    # Deadlines from now on count the new days: in this process once they are committed.
    event.listen(session.sync_session, "after_commit", lambda _session: calendar.forget(), once=True)
    return await read_year(session, settings, number)
