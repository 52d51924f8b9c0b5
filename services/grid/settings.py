"""grid's settings: env prefix ``WANGGE_GRID_``.

Identity: grid signs access tokens with the Ed25519 key in ``signing_key_file``; left unset,
development and test generate one into ``<data_dir>/keys/grid-signing-key.pem`` and production
refuses to start. ``service_secrets`` (``WANGGE_GRID_SERVICE_SECRETS``, a JSON object
``{"intake": "...", "dispatch": "..."}``) are the client secrets services exchange for tokens;
left unset, development and test read them from ``<data_dir>/secrets/service-<name>``.
Password hashing never goes below OWASP's Argon2id minimum (19 MiB, 2 passes, 1 lane).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import CorsOrigins, Environment, ServiceSettings, TimeZoneName

OWASP_MEMORY_KIB = 19_456
OWASP_TIME_COST = 2


def _docs_origins(environment: Environment) -> list[str]:
    """intake's and dispatch's /docs on their default local URLs sign in at grid ("Authorize");
    in production nothing on another origin calls grid unless named."""
    if environment == "production":
        return []
    return [f"http://{host}:{port}" for host in ("127.0.0.1", "localhost") for port in (8001, 8002)]


class GridSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_GRID_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "grid"
    default_port: ClassVar[int] = 8003

    cors_origins: CorsOrigins = Field(
        default_factory=lambda settings: _docs_origins(settings["environment"]),
        description="browser origins that may call grid: the other services' /docs sign in here, "
        "and a console on another origin; outside production intake's and dispatch's local /docs",
    )

    max_body_bytes: int = Field(
        default=16_777_216,
        ge=1024,
        description="largest request body accepted; a territory GeoJSON import is the largest grid takes",
    )
    territory_check_seconds: float = Field(
        default=2.0, ge=0, description="how often locate checks the territory version for a rebuild"
    )
    timezone: TimeZoneName = Field(
        default="Asia/Shanghai",
        description="the office's time zone: the day a grid worker's daily log (民情日志) is for, "
        "and which day is today (dispatch's WANGGE_DISPATCH_TIMEZONE should name the same)",
    )

    auth_issuer: str = Field(default="wangge-grid", min_length=1, description="the `iss` of grid's tokens")
    auth_audience: str = Field(default="wangge", min_length=1, description="the `aud` of grid's tokens")
    access_token_minutes: int = Field(default=15, ge=1, le=60, description="access token lifetime")
    refresh_token_days: int = Field(default=14, ge=1, le=90, description="refresh token lifetime")
    refresh_reuse_seconds: int = Field(
        default=30,
        ge=0,
        le=300,
        description="how long the refresh token a refresh just spent may be presented again for another "
        "token pair of its login (refreshes sent at once, a retry after a lost answer) before it is "
        "taken for stolen and the login revoked; 0: never",
    )
    signing_key_file: Path | None = Field(
        default=None, description="PEM Ed25519 private key; generated into the data dir outside production"
    )
    service_secrets: dict[str, str] = Field(
        default_factory=dict,
        description="client secrets of the services, by client id (intake, dispatch, grid)",
    )
    sign_in_failures_allowed: int = Field(
        default=5,
        ge=1,
        le=100,
        description="failed password sign-ins in a row after which a username is locked for a while",
    )
    sign_in_lock_max_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="the longest a username is locked after failed sign-ins"
    )
    password_memory_kib: int = Field(default=OWASP_MEMORY_KIB, ge=OWASP_MEMORY_KIB)
    password_time_cost: int = Field(default=OWASP_TIME_COST, ge=OWASP_TIME_COST)
    password_parallelism: int = Field(default=1, ge=1, le=16)
