"""The three services as real processes on loopback ports, each on its own database.

The databases are prepared the way an operator does it: ``wangge seed`` (migrate + demo
territory) in a subprocess. Each test gets fresh databases and fresh processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from shapely.geometry import shape

from tests.conftest import pg_database_name, pg_url, recreate_pg_database
from wangge.processes import START_ORDER, ServiceProcess, free_port, start_all, stop_all

T = TypeVar("T")


DEMO_PASSWORD = "wangge-demo"


@dataclass
class System:
    services: dict[str, ServiceProcess]
    tmp_path: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.services[name].url

    def login(self, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
        """Authorization headers for a demo account, from grid's password grant (cached per test)."""
        if username not in self._tokens:
            response = httpx.post(
                f"{self.url('grid')}/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": password},
                timeout=10,
            )
            assert response.status_code == 200, response.text
            self._tokens[username] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    def logs(self) -> str:
        parts = []
        for name in START_ORDER:
            log = self.tmp_path / f"{name}.log"
            if log.exists():
                parts.append(f"--- {name} ---\n" + log.read_text(errors="replace")[-4000:])
        return "\n".join(parts)


def _databases(backend: str, tmp_path: Path) -> dict[str, str]:
    if backend == "sqlite":
        return {name: f"sqlite+aiosqlite:///{tmp_path / name}.db" for name in START_ORDER}
    urls = {}
    for name in START_ORDER:
        database = pg_database_name(f"e2e_{name}")
        asyncio.run(recreate_pg_database(database))
        urls[name] = pg_url(database)
    return urls


@pytest.fixture
def system(backend: str, tmp_path: Path) -> Iterator[System]:
    ports = {name: free_port() for name in START_ORDER}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        "WANGGE_DATA_DIR": str(tmp_path),
        "WANGGE_ENVIRONMENT": "test",
        "WANGGE_INTAKE_GRID_URL": urls["grid"],
        "WANGGE_INTAKE_DISPATCH_URL": urls["dispatch"],
        "WANGGE_DISPATCH_GRID_URL": urls["grid"],
        "WANGGE_DISPATCH_INTAKE_URL": urls["intake"],
        "WANGGE_GRID_CORS_ORIGINS": json.dumps([urls["intake"], urls["dispatch"]]),
        "WANGGE_INTAKE_RELAY_POLL_SECONDS": "0.2",
        "WANGGE_INTAKE_WEBHOOK_PRIVATE_ADDRESSES": "true",  # the bot's endpoint is on loopback
        "WANGGE_DISPATCH_RELAY_POLL_SECONDS": "0.2",
        "WANGGE_INTAKE_RELAY_LEASE_SECONDS": "2",
        "WANGGE_INTAKE_TERRITORY_REFRESH_SECONDS": "0.5",
        # Faults are the point of these tests: keep retry backoff short so they finish fast.
        "WANGGE_INTAKE_RELAY_MAX_BACKOFF_SECONDS": "1",
        "WANGGE_DISPATCH_RELAY_MAX_BACKOFF_SECONDS": "1",
    }
    for name, url in _databases(backend, tmp_path).items():
        env[f"WANGGE_{name.upper()}_DATABASE_URL"] = url
    seeded = subprocess.run(
        [sys.executable, "-m", "wangge.cli", "seed"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr

    services = {
        name: ServiceProcess(name, "127.0.0.1", ports[name], env=env, log_path=str(tmp_path / f"{name}.log"))
        for name in START_ORDER
    }
    start_all(list(services.values()))
    system = System(services, tmp_path)
    try:
        yield system
    finally:
        stop_all(list(services.values()))


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 60.0, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``within`` seconds
    (a minute: on a machine running other suites beside this one, 20 s was sometimes too short)."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {within:.0f} s waiting for {what} (last: {last!r})")


async def rubbish_in_the_cell_of(
    grid: httpx.AsyncClient, admin: dict[str, str], username: str, description: str
) -> dict[str, Any]:
    """A report body: rubbish (0101, which goes to sanitation at once) at a point in the first
    cell of ``username``'s regions, seen now."""
    me = (await grid.get(f"/v1/staff/{username}", headers=admin)).json()
    cells = {c["code"]: c for c in (await grid.get("/v1/territory/cells", headers=admin)).json()["cells"]}
    point = shape(cells[me["region_codes"][0]]["geometry"]).representative_point()
    return {
        "id": str(uuid.uuid4()),
        "category": "0101",
        "description": description,
        "location": {"lat": point.y, "lon": point.x},
        "seen_at": datetime.now(UTC).isoformat(),
    }


async def integration_key(grid: httpx.AsyncClient, admin: dict[str, str], *, name: str, channel: str) -> str:
    """The key (``<id>.<secret>``) the office issued an integration, with ``reports:create``
    and ``reports:read``."""
    answer = await grid.post(
        "/v1/keys",
        json={"name": name, "channel": channel, "scopes": ["reports:create", "reports:read"]},
        headers=admin,
    )
    key: str = answer.json()["key"]
    return key


async def integration(
    grid: httpx.AsyncClient, admin: dict[str, str], *, name: str, channel: str
) -> dict[str, str]:
    """The headers of an integration the office issued a key, signed in with it."""
    return await signed_in(grid, await integration_key(grid, admin, name=name, channel=channel))


async def signed_in(grid: httpx.AsyncClient, key: str) -> dict[str, str]:
    """The headers of an integration signed in with its key as a bot would: client
    credentials at grid's token endpoint."""
    key_id, secret = key.split(".", 1)
    token = await grid.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret},
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}
