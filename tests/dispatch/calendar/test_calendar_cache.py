"""The per-process calendar cache (:class:`services.dispatch.calendar.service.Calendar`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.dispatch.calendar import service
from services.dispatch.calendar.service import Calendar
from services.dispatch.models import CalendarDay
from services.dispatch.settings import DispatchSettings


async def test_a_change_committed_while_the_days_were_being_read_is_not_cached_away(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A request reads the days (its statement sees the calendar before the admin's change);
    the change commits in this process meanwhile and empties the cache; the days read before it
    must not then fill the cache for a minute: the next deadline counts the new days."""
    settings = DispatchSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db", data_dir=tmp_path, calendar_cache_seconds=60
    )
    calendar = Calendar(settings)
    holiday = date(2030, 10, 1)
    reads = 0

    async def days_from(_session: Any, _first: date) -> list[CalendarDay]:
        nonlocal reads
        reads += 1
        if reads == 1:
            calendar.forget()  # the admin's PUT commits while this read is in flight
            return []  # what the statement saw: the calendar before the change
        return [CalendarDay(day=holiday, year=2030, kind="holiday")]

    monkeypatch.setattr(service.repository, "days_from", days_from)
    await calendar.working_time(None)  # type: ignore[arg-type]  # the fake reads no session
    after = await calendar.working_time(None)  # type: ignore[arg-type]
    assert holiday in after.holidays
    assert reads == 2
