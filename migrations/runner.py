"""Run each service's Alembic history from code: ``wangge migrate``, the tests, the compose file."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.db import ensure_sqlite_dir

HERE = Path(__file__).resolve().parent
SERVICES = ("grid", "intake", "dispatch")


def alembic_config(service: str, database_url: str) -> Config:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    config = Config(str(HERE / "alembic.ini"), ini_section=service)
    config.set_main_option("script_location", str(HERE / service))
    config.attributes["database_url"] = database_url
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(service, database_url), revision)


def downgrade(service: str, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(service, database_url), revision)
