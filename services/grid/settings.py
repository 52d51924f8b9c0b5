"""grid's settings: env prefix ``WANGGE_GRID_``."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class GridSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_GRID_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "grid"
    default_port: ClassVar[int] = 8003
