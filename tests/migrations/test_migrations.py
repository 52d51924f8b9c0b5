"""Each service's migrations build, from an empty database, exactly what its models declare,
on SQLite and on PostgreSQL; and they downgrade back to empty."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from migrations.runner import SERVICES, downgrade, upgrade
from tests.conftest import pg_database_name, pg_url, recreate_pg_database


def empty_database(backend: str, service: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / service}.db"
    database = pg_database_name(f"migrations_{service}")
    asyncio.run(recreate_pg_database(database))
    return pg_url(database)


def inspect_database(url: str, metadata: MetaData) -> tuple[list[object], set[str]]:
    async def run() -> tuple[list[object], set[str]]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:

                def diff_and_tables(sync_connection: Connection) -> tuple[list[object], set[str]]:
                    context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                    tables = set(inspect(sync_connection).get_table_names())
                    return compare_metadata(context, metadata), tables

                return await connection.run_sync(diff_and_tables)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_from_empty_matches_the_models(service: str, backend: str, tmp_path: Path) -> None:
    metadata = importlib.import_module(f"services.{service}.models").Base.metadata
    url = empty_database(backend, service, tmp_path)

    upgrade(service, url)

    diff, tables = inspect_database(url, metadata)
    assert diff == [], f"{service}: models and migrations disagree: {diff}"
    assert set(metadata.tables) <= tables

    downgrade(service, url)
    _, tables = inspect_database(url, metadata)
    assert tables <= {"alembic_version"}
