"""intake's settings: env prefix ``WANGGE_INTAKE_``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, service_url


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_INTAKE_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "intake"
    default_port: ClassVar[int] = 8001

    grid_url: str = service_url(8003)
    dispatch_url: str = service_url(8002)
    database_pool_size: int = Field(
        default=32, ge=1, le=64, description="the busiest service: more connections"
    )
    background_tasks: bool = Field(default=True, description="run the relay and the territory refresher")
    writer_max_batch: int = Field(
        default=256, ge=1, le=1000, description="most new reports committed in one transaction"
    )
    writer_concurrency: int = Field(
        default=2, ge=1, le=8, description="transactions of new reports in flight at once"
    )
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    relay_batch_size: int = Field(
        default=250,
        ge=1,
        le=500,
        description="messages a relay claims and sends at once (fewer when fewer wait)",
    )
    relay_concurrency: int = Field(default=2, ge=1, le=8, description="batches in flight at once")
    relay_lease_seconds: float = Field(default=30.0, gt=0)
    territory_refresh_seconds: float = Field(default=30.0, gt=0)
    relay_max_backoff_seconds: float = Field(
        default=60.0, ge=0, description="longest wait between two tries of an undelivered message"
    )
    relay_keep_sent_days: float = Field(
        default=7.0, ge=0, description="how long sent outbox messages are kept before the relay deletes them"
    )
    seen_at_max_age_days: int = Field(default=30, ge=1, description="oldest `seen_at` a report may carry")
    seen_at_max_skew_seconds: float = Field(
        default=300.0, ge=0, description="how far in the future `seen_at` may be (phone clocks drift)"
    )
