"""Fixtures of the CLI's tests: the services' databases as an operator's environment names them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from migrations.runner import SERVICES
from tests.conftest import pg_database_name, pg_url, recreate_pg_database
from wangge.processes import free_port


@pytest.fixture
def databases(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every service's database empty, on the backend under test, through the environment."""
    monkeypatch.setenv("WANGGE_DATA_DIR", str(tmp_path))
    for service in SERVICES:
        if backend == "postgresql":
            database = pg_database_name(f"cli_{service}")
            asyncio.run(recreate_pg_database(database))
            monkeypatch.setenv(f"WANGGE_{service.upper()}_DATABASE_URL", pg_url(database))
        else:
            monkeypatch.delenv(f"WANGGE_{service.upper()}_DATABASE_URL", raising=False)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An office's data dir on the embedded default, its services set to listen on ports
    nothing answers (the restore asks there whether they run)."""
    var = tmp_path / "var"
    monkeypatch.setenv("WANGGE_DATA_DIR", str(var))
    for service in SERVICES:
        monkeypatch.delenv(f"WANGGE_{service.upper()}_DATABASE_URL", raising=False)
        monkeypatch.setenv(f"WANGGE_{service.upper()}_PORT", str(free_port()))
    return var
