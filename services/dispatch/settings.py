"""dispatch's settings: env prefix ``WANGGE_DISPATCH_``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import RelaySettings, service_url


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
    timezone: str = Field(default="Asia/Shanghai", description="the day of case numbers (WG<yyyymmdd>-nnnn)")
