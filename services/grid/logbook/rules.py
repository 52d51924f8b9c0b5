"""The daily log's rules of days and people: plain functions, no database.

- Days are office days, in the office's time zone (``WANGGE_GRID_TIMEZONE``): a log written at
  23:30 in Xiamen is for that day, not for the UTC day before or after.
- An entry is written, and corrected, on its day or the next (a worker home late writes the
  evening's patrol the next morning); after that it is kept as written. A day ahead of today
  has nothing to log yet.
- Grid workers and grid assistants write, each for their own cells. A grid leader reads the
  entries of the cells in their communities, the office (dispatchers, supervisors, admins)
  every entry, a writer their own.
- The monthly figures (网格员考核) count a period of office days, by default the office month so
  far; the same readers but the writers read them, each over the entries they may read.
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
ASSESSORS = OFFICE | {Role.grid_leader}
"""Who checks who has not logged, and reads the monthly figures."""


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


def figures_period(since: date | None, until: date | None, today: date) -> tuple[date, date, str | None]:
    """The period the figures count and what is wrong with it, if anything: a bound left out is
    the office month so far's (since the month's first, until tomorrow), and the problem names
    such a bound as the default it was, since the client did not send it."""
    first = since or today.replace(day=1)
    after = until or today + timedelta(days=1)
    problem = period_problem(None, first, after)
    if problem and (since is None or until is None):
        defaults = [f"since {first} is the month's first"] if since is None else []
        defaults += [f"until {after} is tomorrow"] if until is None else []
        problem = f"{problem} (left out, {' and '.join(defaults)})"
    return first, after, problem
