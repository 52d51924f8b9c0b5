"""The daily log's rules of days and people: plain functions, no database.

- Days are office days, in the office's time zone (``WANGGE_GRID_TIMEZONE``): a log written at
  23:30 in Xiamen is for that day, not for the UTC day before or after.
- An entry is written, and corrected, on its day or the next (a worker home late writes the
  evening's patrol the next morning); after that it is kept as written. A day ahead of today
  has nothing to log yet.
- Grid workers and grid assistants write, each for their own cells. A grid leader reads the
  entries of the cells in their communities, the office (dispatchers, supervisors, admins)
  every entry, a writer their own.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.actors import Role

GRACE_DAYS = 1
"""Days after its own that an entry may still be written or corrected."""
MAX_PERIOD_DAYS = 366
"""The longest period (``since`` to ``until``) a list asks for."""

WRITERS = frozenset({Role.grid_worker, Role.grid_assistant})
"""Who keeps a daily log (二员): the leader (一长) reads them."""
OFFICE = frozenset({Role.dispatcher, Role.supervisor, Role.admin})
"""Who reads every entry."""
READERS = WRITERS | OFFICE | {Role.grid_leader}


def office_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def last_editable_day(day: date) -> date:
    """The last office day on which the entry for ``day`` may be written or corrected."""
    return day + timedelta(days=GRACE_DAYS)


def writing_problem(day: date, today: date) -> str | None:
    """Why an entry for ``day`` may not be written today, if it may not."""
    if day > today:
        return f"{day} is after today ({today}): a log is written on its day or the next"
    if last_editable_day(day) < today:
        return (
            f"{day} is past: a log is written on its day or the next, "
            f"so today ({today}) only for {today - timedelta(days=GRACE_DAYS)} or {today}"
        )
    return None


def correction_problem(day: date, today: date) -> str | None:
    """Why the entry for ``day`` may no longer be corrected today, if so."""
    if last_editable_day(day) < today:
        return (
            f"the log of {day} is kept as written: it could be corrected until the end of "
            f"{last_editable_day(day)} (office time)"
        )
    return None


def period_problem(day: date | None, since: date | None, until: date | None) -> str | None:
    """What is wrong with a list's days, if anything: ``day`` or a period, ``until`` the day
    after the last, at most :data:`MAX_PERIOD_DAYS`; one bound alone leaves the other open."""
    if day is not None and (since is not None or until is not None):
        return "give day, or since and until, not both"
    if since is not None and until is not None:
        if until <= since:
            return f"until ({until}) must come after since ({since}): until is the day after the last"
        if (until - since).days > MAX_PERIOD_DAYS:
            return f"a period is at most {MAX_PERIOD_DAYS} days: ask for a year at a time"
    return None
