"""intake's settings: env prefix ``WANGGE_INTAKE_``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import RelaySettings, service_url


class IntakeSettings(RelaySettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_INTAKE_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "intake"
    default_port: ClassVar[int] = 8001

    grid_url: str = service_url(8003)
    public_grid_url: str | None = Field(
        default=None,
        description="grid as a browser reaches it, for /docs' Authorize (default grid_url)",
    )
    dispatch_url: str = service_url(8002)
    database_pool_size: int = Field(
        default=32, ge=1, le=64, description="the busiest service: more connections"
    )
    writer_max_batch: int = Field(
        default=256, ge=1, le=1000, description="most new reports committed in one transaction"
    )
    writer_concurrency: int = Field(
        default=2, ge=1, le=8, description="transactions of new reports in flight at once"
    )
    territory_refresh_seconds: float = Field(default=30.0, gt=0)
    # Bounded: the window's edges are computed on each report's way in, and one past what a
    # datetime holds (800,000 days back) made every report a 500.
    seen_at_max_age_days: int = Field(
        default=30, ge=1, le=36_500, description="oldest `seen_at` a report may carry"
    )
    seen_at_max_skew_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="how far in the future `seen_at` may be (phone clocks drift)",
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=30, description="how long a webhook delivery waits for the endpoint's answer"
    )
    webhook_private_addresses: bool = Field(
        default=False,
        description="let webhooks reach loopback, private-network and link-local addresses (a bot "
        "on the office's own network); off, a webhook must resolve to public addresses only",
    )
    webhook_give_up_hours: float = Field(
        default=24.0, gt=0, le=24 * 7, description="how long a webhook delivery is retried before it is dead"
    )
    webhook_key_check_seconds: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="how long grid's answer that a webhook's integration key is active is taken "
        "without asking again: a revoked key's deliveries stop within about this long",
    )
    webhook_key_trust_minutes: float = Field(
        default=15.0,
        ge=0,
        le=24 * 60,
        description="while grid cannot be asked, how long after its last answer that a key is "
        "active its webhook is still delivered to (then paused until grid answers; 0: at once)",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^(https?://[^\s/?#]+(/[^\s?#]*)?)?$",
        description="intake as its clients reach it, for the photos' URLs "
        "(default: the URL each upload came to)",
    )
    photo_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024, description="largest photo upload accepted"
    )
    photo_max_pixels: int = Field(
        default=50_000_000,
        ge=10_000,
        le=178_000_000,  # Pillow refuses more itself (twice its MAX_IMAGE_PIXELS), whatever the bound
        description="most pixels an uploaded photo may have (a 48-megapixel phone camera's fit)",
    )
    photo_max_edge: int = Field(
        default=2048, ge=320, le=8192, description="the longer side a photo is scaled down to, in pixels"
    )
    photo_read_seconds: float = Field(
        default=120.0,
        ge=1,
        le=3600,
        description="longest an upload's body may take to arrive (408 beyond): 10 MiB in 120 s is 0.7 Mbit/s",
    )
    photo_daily_limit: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="photos one uploader (a staff member, an integration's key) may add in 24 hours; "
        "one more is a 429 with Retry-After",
    )
    photo_unattached_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="how long a photo no report nor case step names is kept before it is deleted "
        "(at least a day: an app may upload a report's photos well before it sends the report)",
    )
    photo_workers: int = Field(
        default=2,
        ge=1,
        le=16,
        description="photos decoded at once (each holds a decoded picture of up to photo_max_pixels, "
        "4 bytes a pixel, twice that with transparency)",
    )
