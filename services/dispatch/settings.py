"""dispatch's settings: env prefix ``WANGGE_DISPATCH_``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, service_url


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_DISPATCH_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "dispatch"
    default_port: ClassVar[int] = 8002

    grid_url: str = service_url(8003)
    intake_url: str = service_url(8001)
    background_tasks: bool = Field(default=True, description="run the relay to intake")
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    relay_batch_size: int = Field(
        default=250,
        ge=1,
        le=500,
        description="messages a relay claims and sends at once (fewer when fewer wait)",
    )
    relay_concurrency: int = Field(default=2, ge=1, le=8, description="batches in flight at once")
    relay_lease_seconds: float = Field(default=30.0, gt=0)
    relay_max_backoff_seconds: float = Field(default=60.0, ge=0, description="longest wait between retries")
    relay_keep_sent_days: float = Field(
        default=7.0, ge=0, description="how long sent outbox messages are kept before the relay deletes them"
    )
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
