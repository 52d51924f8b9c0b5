"""The settings base every service extends with its own env prefix (``WANGGE_INTAKE_…``).

The defaults run the demo on this machine: SQLite files under the data directory
(``WANGGE_DATA_DIR``, default ``./var``), services on loopback at their default ports.

``cors_origins`` (``WANGGE_<SVC>_CORS_ORIGINS``) are the browser origins allowed to call a
service: a JSON list (``["https://console.example.gov.cn"]``) or the origins separated by
commas; empty, no page on another origin may call it. An origin is ``scheme://host[:port]``
as a browser sends it (no path, no trailing slash); ``http://localhost:*`` stands for every
port of that host, what ``wangge up`` gives for the pages of a developer's own machine.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL

Environment = Literal["development", "test", "production"]


def default_data_dir() -> Path:
    return Path(os.environ.get("WANGGE_DATA_DIR", "var"))


def service_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _listed(value: Any) -> Any:
    """A list as an operator writes it in one variable: JSON, or items separated by commas."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON list: {exc}") from exc
    return [item.strip() for item in value.split(",") if item.strip()]


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a time zone: write an IANA name such as Asia/Shanghai") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name (``Asia/Shanghai``): the office's, which decides what day it is; a
name the system does not know stops the service at start."""


_ORIGIN = re.compile(r"(https?)://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}|\*))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _origins(origins: list[str]) -> list[str]:
    """Each origin as a browser sends it in ``Origin``: capitals and a default port written
    as it sends them (``https://x.gov.cn``), and anything else refused (a path, a trailing
    slash, ``*``): an origin written otherwise would never match, and fail silently."""
    checked = []
    for origin in origins:
        match = _ORIGIN.fullmatch(origin.lower())
        if not match:
            raise ValueError(
                f"{origin!r} is not an origin: write scheme://host[:port] as the browser shows it, "
                'e.g. "https://console.example.gov.cn" or "http://localhost:5173", with no path '
                "(a host in another script in its xn-- form)"
            )
        scheme, host, port = match.groups()
        keep_port = port is not None and port != _DEFAULT_PORTS[scheme]
        checked.append(f"{scheme}://{host}:{port}" if keep_port else f"{scheme}://{host}")
    return list(dict.fromkeys(checked))


CorsOrigins = Annotated[list[str], NoDecode, BeforeValidator(_listed), AfterValidator(_origins)]
"""Browser origins allowed to call a service (the module docstring says how they are written)."""


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
    cors_origins: CorsOrigins = Field(
        default_factory=list,
        description="browser origins allowed to call the API (a console on another origin); none by default",
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> ServiceSettings:
        if not self.database_url:
            path = (self.data_dir / f"{self.service_name}.db").resolve()
            # Rendered by SQLAlchemy, which escapes what a URL would read otherwise: a data
            # dir holding ``?`` or ``#`` started a query or a fragment, and every service
            # opened the same file.
            url = URL.create("sqlite+aiosqlite", database=str(path)).render_as_string(hide_password=False)
            object.__setattr__(self, "database_url", url)
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
    relay_keep_dead_days: float = Field(
        default=90.0, ge=0, description="how long dead outbox messages are kept for inspection, then deleted"
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
            "keep_dead_days": self.relay_keep_dead_days,
        }
