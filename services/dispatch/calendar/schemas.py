"""Request and response bodies of the working calendar."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field, field_validator

from shared.schemas import Day, RequestModel, ResponseModel


class DayKind(StrEnum):
    holiday = "holiday"
    """no working day, whatever its weekday (国庆节)"""
    workday = "workday"
    """a working day, whatever its weekday: a make-up day (调休)"""


class CalendarDayWrite(RequestModel):
    day: Day = Field(examples=["2026-10-01"])
    kind: DayKind
    name: str | None = Field(default=None, min_length=1, max_length=64, examples=["国庆节"])


class CalendarYearWrite(RequestModel):
    """A year's holidays and make-up working days, all of them: the year's days as set before
    are replaced. Days whose weekday already says the same (a holiday on a Sunday) may be
    listed too, as official notices list a holiday's whole span."""

    days: list[CalendarDayWrite] = Field(
        max_length=366,
        examples=[
            [
                {"day": "2026-10-01", "kind": "holiday", "name": "国庆节"},
                {"day": "2026-10-10", "kind": "workday", "name": "国庆节调休"},
            ]
        ],
    )

    @field_validator("days")
    @classmethod
    def _once_each(cls, days: list[CalendarDayWrite]) -> list[CalendarDayWrite]:
        seen: set[date] = set()
        for item in days:
            if item.day in seen:
                raise ValueError(f"{item.day.isoformat()} is listed twice")
            seen.add(item.day)
        return sorted(days, key=lambda item: item.day)


class CalendarDayRead(ResponseModel):
    day: date
    kind: DayKind
    name: str | None


class CalendarYearRead(ResponseModel):
    year: int = Field(examples=[2026])
    timezone: str = Field(examples=["Asia/Shanghai"], description="the working hours' time zone (a setting)")
    working_hours: str = Field(
        examples=["08:30-12:00,14:00-17:30"], description="each working day's (a setting)"
    )
    working_weekdays: str = Field(examples=["mon-fri"], description="the week's working days (a setting)")
    days: list[CalendarDayRead] = Field(description="the year's holidays and make-up working days, by date")
    version: int = Field(description="0 while the year was never set")
    updated_at: datetime | None
    updated_by: str | None
