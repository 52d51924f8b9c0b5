"""Fixtures every level shares: the database backends and clean databases on each.

Every database test runs once on SQLite and once on PostgreSQL (``backend`` is parametrized).
``WANGGE_TEST_BACKENDS`` narrows that for a quick local run; PostgreSQL is reached at
``WANGGE_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432``). If PostgreSQL
is wanted and not reachable, the run stops at once: it is never skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

PG_SERVER = os.environ.get("WANGGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
BACKENDS = [
    b.strip() for b in os.environ.get("WANGGE_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()
]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
CHECKOUT = hashlib.sha1(str(Path(__file__).resolve().parent.parent).encode()).hexdigest()[:6]
"""A tag of this checkout in its test databases' names: two checkouts testing on one PostgreSQL
at once (a clone beside the working tree) dropped each other's databases mid-run."""

_created: set[str] = set()


def pg_database_name(name: str) -> str:
    return f"wangge_test_{CHECKOUT}_{name}_{WORKER}"


def pg_url(database: str) -> str:
    return PG_SERVER.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{database}"


_to_drop: set[str] = set()
"""The databases this process made: dropped when its session ends."""


async def recreate_pg_database(database: str) -> None:
    connection = await asyncpg.connect(f"{PG_SERVER}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{database}"')
        _to_drop.add(database)
    finally:
        await connection.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Leave the server as found: the run's databases go with it (each xdist worker its own)."""
    if not _to_drop:
        return

    async def drop() -> None:
        connection = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
        try:
            for database in sorted(_to_drop):
                await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def pytest_sessionstart(session: pytest.Session) -> None:
    if "postgresql" not in BACKENDS:
        return

    async def ping() -> None:
        connection = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
        await connection.close()

    try:
        asyncio.run(ping())
    except Exception as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {PG_SERVER} ({exc}); the suite runs on PostgreSQL too "
            "and never skips it. Start PostgreSQL, or set WANGGE_TEST_BACKENDS=sqlite for a local run.",
            returncode=3,
        )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


CleanDatabase = Callable[[str, MetaData], Awaitable[str]]


@pytest.fixture
async def clean_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[CleanDatabase]:
    """``await clean_database("grid", metadata)`` → the URL of a database with empty tables.

    SQLite gets a new file per test; PostgreSQL a database per test folder, name and worker,
    created once per run and truncated before each test.
    """
    folder = request.node.path.parent.name

    async def make(name: str, metadata: MetaData) -> str:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
            fresh = True
        else:
            database = pg_database_name(f"{folder}_{name}")
            url = pg_url(database)
            fresh = database not in _created
            if fresh:
                await recreate_pg_database(database)
                _created.add(database)
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                if fresh:
                    await connection.run_sync(metadata.create_all)
                else:
                    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
                    await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()
        return url

    yield make
