"""What the database refuses or cannot do reaches the client as the right problem: a value it
will not store a 422, a database out of reach a 503, a mistake in a query a 500."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from shared.db import create_engine, out_of_reach, refused_value
from shared.error_handlers import install_error_handlers
from tests.conftest import PG_SERVER, pg_url

UNREACHABLE = {
    # nothing listens on port 1; a database "in" a plain file cannot be opened
    "postgresql": PG_SERVER.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit(":", 1)[0] + ":1/x",
    "sqlite": "sqlite+aiosqlite:///{tmp}/a-file/x.db",
}
REFUSED = "a value in the request cannot be stored (out of range or malformed)"
DOWN = "the database is out of reach; retry shortly"


@pytest.fixture
async def client(backend: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app with the services' error handling whose routes run statements on ``backend``."""
    url = pg_url("postgres") if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/x.db"
    reachable = create_engine(url)
    one_connection = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    (tmp_path / "a-file").write_text("not a folder")
    unreachable = create_async_engine(UNREACHABLE[backend].format(tmp=tmp_path))
    app = FastAPI()
    install_error_handlers(app)

    async def run(statement: str, **values: Any) -> None:
        async with reachable.connect() as connection:
            await connection.execute(text(statement), values)

    @app.get("/too-long")
    async def too_long() -> None:
        async with reachable.connect() as connection:
            await connection.execute(text("CREATE TEMPORARY TABLE short_table (name VARCHAR(4))"))
            await connection.execute(text("INSERT INTO short_table VALUES (:value)"), {"value": "abcdef"})

    @app.get("/out-of-range")
    async def out_of_range() -> None:
        await run("SELECT CAST(:value AS INTEGER)", value=2**40)

    @app.get("/deadlock")
    async def deadlock() -> None:  # two transactions wait for each other; PostgreSQL aborts one
        async def take(connection: AsyncConnection, key: int) -> None:
            try:
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            except DBAPIError:
                await connection.rollback()  # lets the other through
                raise

        async with reachable.connect() as first, reachable.connect() as second:
            await take(first, 1)
            await take(second, 2)
            outcomes = await asyncio.gather(take(first, 2), take(second, 1), return_exceptions=True)
        raise next(outcome for outcome in outcomes if isinstance(outcome, BaseException))

    @app.get("/division")
    async def division() -> None:  # a data exception, but the query's own mistake
        await run("SELECT 1 / (SELECT 0)")

    @app.get("/typo")
    async def typo() -> None:
        await run("SELECT * FROM secret_table")

    @app.get("/duplicate")
    async def duplicate() -> None:  # an unexpected duplicate: a bug, not the client's
        async with reachable.connect() as connection:
            await connection.execute(text("CREATE TEMPORARY TABLE secret_table (id INTEGER PRIMARY KEY)"))
            await connection.execute(text("INSERT INTO secret_table VALUES (1), (1)"))

    @app.get("/missing-file")
    async def missing_file() -> None:
        (tmp_path / "secret-file").read_text()

    @app.get("/down")
    async def down() -> None:
        async with unreachable.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @app.get("/pool-exhausted")
    async def pool_exhausted() -> None:
        async with one_connection.connect(), one_connection.connect():
            pass

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    for engine in (reachable, one_connection, unreachable):
        await engine.dispose()
    for thread in threading.enumerate():  # aiosqlite stops a failed connection's thread without
        if thread.name.endswith("(_connection_worker_thread)"):  # waiting: done before the loop closes
            thread.join(timeout=5)


@pytest.mark.parametrize("path", ["/too-long", "/out-of-range"])
async def test_a_value_the_database_refuses_is_422(
    client: httpx.AsyncClient, backend: str, path: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite stores a value of any length or size in any column")
    response = await client.get(path)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == REFUSED


@pytest.mark.parametrize("path", ["/down", "/pool-exhausted"])
async def test_a_database_out_of_reach_is_503(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == DOWN


async def test_a_transaction_aborted_for_a_concurrent_one_is_503(
    client: httpx.AsyncClient, backend: str
) -> None:
    """A deadlock PostgreSQL broke (or a serialization failure): the same request retried goes
    through. It was a 500, with a traceback in the log."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer: its transactions never deadlock")
    response = await client.get("/deadlock")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the request met a concurrent one in the database; retry it"


@pytest.mark.parametrize("path", ["/typo", "/duplicate", "/division", "/missing-file"])
async def test_a_mistake_is_a_500_that_leaks_nothing(
    client: httpx.AsyncClient, backend: str, path: str
) -> None:
    """SQLite raises a missing table as OperationalError, like a locked database: still a 500."""
    if (backend, path) == ("sqlite", "/division"):
        pytest.skip("SQLite divides by zero without complaint (NULL)")
    response = await client.get(path)

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "message", "refused", "unreachable"),
    [
        ("22001", "value too long for type character varying(4)", True, False),
        ("22003", "integer out of range", True, False),
        (
            "22000",
            "invalid input for query argument $1: 1099511627776 (value out of int32 range)",
            True,
            False,
        ),
        (
            "22000",
            "invalid input for query argument $1: 'a' ('str' object cannot be interpreted)",
            False,
            False,
        ),
        ("22012", "division by zero", False, False),
        ("53300", "sorry, too many clients already", False, True),
        ("57P03", "the database system is starting up", False, True),
        ("08006", "connection failure", False, True),
        ("42P01", 'relation "x" does not exist', False, False),
    ],
)
def test_the_sqlstate_decides(sqlstate: str, message: str, refused: bool, unreachable: bool) -> None:
    """asyncpg's errors all reach SQLAlchemy as a plain DBAPIError: its SQLSTATE tells them apart."""
    error = DBAPIError("SELECT …", {}, _DriverError(message, sqlstate))

    assert (refused_value(error), out_of_reach(error)) == (refused, unreachable)
