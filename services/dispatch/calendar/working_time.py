"""Working time: the office's hours on its working days, and deadlines counted on them.

A time limit of a normal category is counted in working hours (工作时): a case dispatched on
a Friday at 16:00 with 4 hours is due on Monday at 11:00, not on Saturday at 20:00. The
working days are the week's working weekdays, less the office's holidays, plus its make-up
working days (调休: a Sunday worked to bridge a holiday). Urgent and critical categories
count round the clock (:func:`services.dispatch.cases.lifecycle.deadline` decides which).

No database, no HTTP: :class:`WorkingTime` is built from the settings and the calendar's
days (:mod:`services.dispatch.calendar.service`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names as the settings write them, Monday first (``date.weekday()``'s order)."""

SEARCH_DAYS = 3660
"""How far a deadline is looked for (ten years): a calendar with no working day in that long
(every day a holiday) counts the rest of the time round the clock instead of looping forever."""

_SPAN = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


def parse_spans(text: str) -> tuple[tuple[time, time], ...]:
    """``"08:30-12:00,14:00-17:30"``: the day's working spans, in order, not overlapping."""
    spans: list[tuple[time, time]] = []
    for part in (p.strip() for p in text.split(",")):
        match = _SPAN.fullmatch(part)
        if match is None:
            raise ValueError(f"{part!r} is not a span: write HH:MM-HH:MM, e.g. 08:30-12:00")
        h1, m1, h2, m2 = map(int, match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
            raise ValueError(f"{part!r} is not a time of day")
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"{part!r} ends before it starts")
        if spans and start < spans[-1][1]:
            raise ValueError(f"{part!r} starts before the span before it ends: write the spans in order")
        spans.append((start, end))
    return tuple(spans)


def parse_weekdays(text: str) -> frozenset[int]:
    """``"mon,tue,wed,thu,fri"`` (or ``"mon-fri"``): the week's working weekdays, Monday 0."""
    days: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"{part!r} is not a weekday or a range of them: write e.g. mon-fri or sat")
        start, stop = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if stop < start:
            raise ValueError(f"{part!r} runs backwards: write e.g. mon-fri")
        days.update(range(start, stop + 1))
    if not days:
        raise ValueError("name at least one working weekday")
    return frozenset(days)


@dataclass(frozen=True)
class WorkingTime:
    """The office's working time in ``zone``: ``spans`` of each working day."""

    zone: ZoneInfo
    spans: tuple[tuple[time, time], ...]
    weekdays: frozenset[int]
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    """make-up working days: worked although their weekday is not"""

    @classmethod
    def round_the_clock(cls, zone: ZoneInfo) -> WorkingTime:
        """Every hour of every day: a time limit in working hours is then one in hours."""
        return cls(zone=zone, spans=((time.min, time.max),), weekdays=frozenset(range(7)))

    def with_days(self, holidays: Iterable[date], workdays: Iterable[date]) -> WorkingTime:
        return replace(self, holidays=frozenset(holidays), workdays=frozenset(workdays))

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.workdays or day.weekday() in self.weekdays

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` of working time after ``start`` (aware; answered in UTC).

        Time before the day's first span, between spans and after the last does not count,
        nor do days that are not working days. A deadline falling exactly at a span's end is
        that end (17:30, not the next morning)."""
        left = timedelta(hours=hours)
        start = start.astimezone(UTC)
        day = start.astimezone(self.zone).date()
        for _ in range(SEARCH_DAYS):
            if self.is_working_day(day):
                for span_start, span_end in self.spans:
                    opens = self._moment(day, span_start)
                    closes = self._moment(day, span_end)
                    begin = max(opens, start)
                    if begin >= closes:
                        continue
                    if left <= closes - begin:
                        return begin + left
                    left -= closes - begin
            day += timedelta(days=1)
        return max(start, self._moment(day, time.min)) + left

    def _moment(self, day: date, at: time) -> datetime:
        if at == time.max:  # a span ending at 24:00 ends at the next midnight
            return datetime.combine(day + timedelta(days=1), time.min, self.zone).astimezone(UTC)
        return datetime.combine(day, at, self.zone).astimezone(UTC)
