"""Working time as plain rules: spans, weekdays, holidays, make-up days (no database)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.dispatch.calendar.working_time import WorkingTime, parse_spans, parse_weekdays
from services.dispatch.settings import DispatchSettings

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = WorkingTime(
    zone=SHANGHAI, spans=parse_spans("08:30-12:00,14:00-17:30"), weekdays=parse_weekdays("mon-fri")
)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A moment in December 2026, Shanghai time (the 7th is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (at(7, 9), 2, at(7, 11)),  # inside the morning
        (at(7, 11), 2, at(7, 15)),  # an hour before lunch, an hour after
        (at(7, 7), 1, at(7, 9, 30)),  # before opening: counts from 08:30
        (at(7, 12, 30), 1, at(7, 15)),  # during lunch: counts from 14:00
        (at(8, 18), 1, at(9, 9, 30)),  # after closing: the next morning
        (at(7, 8, 30), 3.5, at(7, 12)),  # ends exactly at a span's end: that end, not 14:00
        (at(11, 16), 4, at(14, 11)),  # Friday afternoon: Monday morning
        (at(12, 10), 1, at(14, 9, 30)),  # a Saturday: Monday
        (at(7, 8, 30), 35, at(11, 17, 30)),  # a whole working week is 35 hours
    ],
)
def test_hours_count_only_inside_the_spans_of_working_days(
    start: datetime, hours: float, due: datetime
) -> None:
    assert OFFICE.add(start, hours) == due


def test_the_answer_is_in_utc_whatever_the_start_zone() -> None:
    due = OFFICE.add(at(7, 9).astimezone(ZoneInfo("Europe/Berlin")), 1)
    assert due.utcoffset() == timedelta(0)
    assert due == at(7, 10)


def test_holidays_are_skipped_and_make_up_days_worked() -> None:
    calendar = OFFICE.with_days(holidays=[date(2026, 12, 10)], workdays=[date(2026, 12, 13)])
    assert calendar.add(at(9, 17), 1) == at(11, 9)  # half an hour on Wednesday, Thursday off
    assert calendar.add(at(12, 10), 1) == at(13, 9, 30)  # Sunday the 13th is worked
    assert not calendar.is_working_day(date(2026, 12, 10))
    assert calendar.is_working_day(date(2026, 12, 13))
    assert not calendar.is_working_day(date(2026, 12, 12))


def test_a_holiday_wins_over_a_make_up_day_listed_for_the_same_date() -> None:
    calendar = OFFICE.with_days(holidays=[date(2026, 12, 13)], workdays=[date(2026, 12, 13)])
    assert not calendar.is_working_day(date(2026, 12, 13))


def test_round_the_clock_is_plain_hours() -> None:
    always = WorkingTime.round_the_clock(SHANGHAI)
    start = at(12, 23, 59)
    assert always.add(start, 4) == start + timedelta(hours=4)
    assert always.add(start, 100) == start + timedelta(hours=100)


def test_a_calendar_without_working_days_ends_instead_of_looping() -> None:
    year = date(2026, 12, 7)
    never = OFFICE.with_days(holidays=[year + timedelta(days=n) for n in range(4000)], workdays=[])
    assert never.add(at(7, 9), 1) > at(7, 9) + timedelta(days=3600)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("8-12", "not a span"),
        ("12:00-08:00", "ends before it starts"),
        ("08:00-12:00,11:00-17:00", "starts before the span before it ends"),
        ("25:00-26:00", "not a time of day"),
        ("08:60-12:00", "not a time of day"),
        ("", "not a span"),
    ],
)
def test_spans_written_wrong_are_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_spans(text)


def test_weekdays_take_names_and_ranges() -> None:
    assert parse_weekdays("mon-fri") == frozenset(range(5))
    assert parse_weekdays("Mon-Sat") == frozenset(range(6))
    assert parse_weekdays("sat, sun") == frozenset({5, 6})
    for wrong, why in (("fri-mon", "runs backwards"), ("funday", "not a weekday"), ("", "at least one")):
        with pytest.raises(ValueError, match=why):
            parse_weekdays(wrong)


def test_settings_refuse_a_wrong_zone_hours_or_weekdays_at_start() -> None:
    assert DispatchSettings().working_time().spans == parse_spans("08:30-12:00,14:00-17:30")
    wrong: list[tuple[str, str, str]] = [
        ("timezone", "Asia/Xiamen", "not a time zone"),
        ("working_hours", "8:30 to 17:30", "not a span"),
        ("working_weekdays", "weekdays", "not a weekday"),
    ]
    for field, value, why in wrong:
        with pytest.raises(ValidationError, match=why):
            DispatchSettings.model_validate({field: value})
