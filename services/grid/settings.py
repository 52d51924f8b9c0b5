"""grid's settings: env prefix ``WANGGE_GRID_``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class GridSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_GRID_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "grid"
    default_port: ClassVar[int] = 8003

    max_body_bytes: int = Field(
        default=16_777_216,
        ge=1024,
        description="largest request body accepted; a territory GeoJSON import is the largest grid takes",
    )
    territory_check_seconds: float = Field(
        default=2.0, ge=0, description="how often locate checks the territory version for a rebuild"
    )
