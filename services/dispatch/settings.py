"""dispatch's settings: env prefix ``WANGGE_DISPATCH_``."""

from __future__ import annotations

from typing import ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.dispatch.calendar.working_time import WorkingTime, parse_spans, parse_weekdays
from shared.settings import RelaySettings, TimeZoneName, service_url


class DispatchSettings(RelaySettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_DISPATCH_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "dispatch"
    default_port: ClassVar[int] = 8002

    grid_url: str = service_url(8003)
    public_grid_url: str | None = Field(
        default=None,
        description="grid as a browser reaches it, for /docs' Authorize (default grid_url)",
    )
    intake_url: str = service_url(8001)
    merge_radius_meters: float = Field(default=50.0, ge=0, description="reports this close join one case")
    merge_window_hours: float = Field(
        default=4.0,
        ge=0,
        le=168,
        description="…if seen within this many hours (at most a week: the look-up scans each day of it)",
    )
    feedback_window_days: float = Field(default=7.0, ge=0, description="unsatisfied feedback reopens within")
    routing_cache_seconds: float = Field(default=60.0, ge=0)
    timezone: TimeZoneName = Field(
        default="Asia/Shanghai",
        description="the office's time zone: the day of case numbers (WG<yyyymmdd>-nnnn), the working hours",
    )
    working_hours: str = Field(
        default="08:30-12:00,14:00-17:30",
        description="a working day's spans (office time zone): normal categories' time limits count them",
    )
    working_weekdays: str = Field(
        default="mon-fri",
        description="the week's working days (mon-fri, mon-sat …); the calendar's holidays aside",
    )
    calendar_cache_seconds: float = Field(
        default=60.0, ge=0, le=3600, description="how soon another dispatch process sees a changed calendar"
    )
    auto_urge: bool = Field(
        default=True,
        description="超期自动督办: urge, as the system, each case its department lets run past its deadline",
    )
    escalation_seconds: float = Field(
        default=60.0, ge=1, le=3600, description="how often dispatch looks for cases newly overdue to urge"
    )

    @field_validator("working_hours")
    @classmethod
    def _spans(cls, value: str) -> str:
        parse_spans(value)
        return value

    @field_validator("working_weekdays")
    @classmethod
    def _weekdays(cls, value: str) -> str:
        parse_weekdays(value)
        return value

    def working_time(self) -> WorkingTime:
        """The working week these settings describe, before the calendar's holidays."""
        return WorkingTime(
            zone=ZoneInfo(self.timezone),
            spans=parse_spans(self.working_hours),
            weekdays=parse_weekdays(self.working_weekdays),
        )
