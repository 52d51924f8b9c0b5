"""The settings base every service extends with its own env prefix (``WANGGE_INTAKE_…``).

The defaults run the demo on this machine: SQLite files under the data directory
(``WANGGE_DATA_DIR``, default ``./var``), services on loopback at their default ports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]


def default_data_dir() -> Path:
    return Path(os.environ.get("WANGGE_DATA_DIR", "var"))


def service_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: ClassVar[str]
    default_port: ClassVar[int]

    environment: Environment = Field(
        default_factory=lambda: os.environ.get("WANGGE_ENVIRONMENT", "development")  # type: ignore[arg-type,return-value]
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=64,
        description="PostgreSQL connections kept open (as many again may open under a burst); "
        "fewer than the concurrent requests makes the overflow connections open and close all the time",
    )
    host: str = "127.0.0.1"
    port: int = 0
    log_level: Annotated[
        Literal["critical", "error", "warning", "info", "debug", "trace"],
        BeforeValidator(lambda level: level.lower() if isinstance(level, str) else level),
    ] = "info"
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="largest request body accepted")
    peer_timeout_seconds: float = Field(default=5.0, gt=0)
    auth_issuer: str = Field(default="wangge-grid", description="the iss of grid's tokens")
    auth_audience: str = Field(default="wangge", description="the aud of grid's tokens")
    client_secret: str | None = Field(
        default=None,
        description="this service's secret for grid's client-credentials grant (generated in development)",
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> ServiceSettings:
        if not self.database_url:
            path = (self.data_dir / f"{self.service_name}.db").resolve()
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        if not self.port:
            object.__setattr__(self, "port", self.default_port)
        return self


class RelaySettings(ServiceSettings):
    """The settings of a service that runs an outbox relay (``shared.outbox.Relay``)."""

    background_tasks: bool = Field(default=True, description="run the relay and the service's other loops")
    relay_poll_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="longest wait for new messages when no commit wakes the relay"
    )
    relay_batch_size: int = Field(
        default=250,
        ge=1,
        le=500,
        description="messages a relay claims and sends at once (fewer when fewer wait)",
    )
    relay_concurrency: int = Field(default=2, ge=1, le=8, description="batches in flight at once")
    relay_lease_seconds: float = Field(default=30.0, gt=0, le=3600)
    relay_max_backoff_seconds: float = Field(
        default=60.0, ge=0, le=86_400, description="longest wait between two tries of an undelivered message"
    )
    relay_keep_sent_days: float = Field(
        default=7.0, ge=0, description="how long sent outbox messages are kept before the relay deletes them"
    )

    def relay_options(self) -> dict[str, Any]:
        """The keyword arguments of ``shared.outbox.Relay`` these settings give."""
        return {
            "batch_size": self.relay_batch_size,
            "lease_seconds": self.relay_lease_seconds,
            "poll_seconds": self.relay_poll_seconds,
            "max_backoff_seconds": self.relay_max_backoff_seconds,
            "concurrency": self.relay_concurrency,
            "keep_sent_days": self.relay_keep_sent_days,
        }
