"""What the database refuses or cannot do reaches the client as the right problem, not a 500."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import create_engine
from shared.errors import install_error_handlers
from tests.conftest import PG_SERVER, pg_url

UNREACHABLE = {
    # nothing listens on port 1; a database "in" a plain file cannot be opened
    "postgresql": PG_SERVER.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit(":", 1)[0] + ":1/x",
    "sqlite": "sqlite+aiosqlite:///{tmp}/a-file/x.db",
}


@pytest.fixture
async def client(backend: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app with the services' error handling whose routes run statements on ``backend``."""
    reachable = create_engine(
        pg_url("postgres") if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/x.db"
    )
    (tmp_path / "a-file").write_text("not a folder")
    unreachable = create_async_engine(UNREACHABLE[backend].format(tmp=tmp_path))
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refused")
    async def refused() -> None:
        async with reachable.connect() as connection:
            await connection.execute(text("SELECT CAST(:value AS VARCHAR(4))::INTEGER"), {"value": "abc"})

    @app.get("/broken")
    async def broken() -> None:  # a bug: the same key twice
        async with reachable.connect() as connection:
            await connection.execute(text("CREATE TEMPORARY TABLE secret_table (id INTEGER PRIMARY KEY)"))
            await connection.execute(text("INSERT INTO secret_table VALUES (1), (1)"))

    @app.get("/down")
    async def down() -> None:
        async with unreachable.connect() as connection:
            await connection.execute(text("SELECT 1"))

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await reachable.dispose()
    await unreachable.dispose()
    for thread in threading.enumerate():  # aiosqlite stops a failed connection's thread without
        if thread.name.endswith("(_connection_worker_thread)"):  # waiting: done before the loop closes
            thread.join(timeout=5)


async def test_a_value_the_database_refuses_is_422(client: httpx.AsyncClient, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite converts or keeps any value; it has no data exceptions to sort")
    response = await client.get("/refused")

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "a value in the request cannot be stored (out of range or malformed)"


async def test_a_database_out_of_reach_is_503(client: httpx.AsyncClient) -> None:
    response = await client.get("/down")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the database is out of reach; retry shortly"


async def test_any_other_database_error_is_a_500_that_leaks_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/broken")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret_table" not in response.text
