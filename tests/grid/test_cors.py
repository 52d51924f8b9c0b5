"""An admin console on another origin changes a department with If-Match."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.grid.settings import GridSettings
from tests.grid.factories import create_department

CONSOLE = "https://admin.example.gov.cn"


@pytest.fixture
def grid_settings(grid_url: str, tmp_path: Path) -> GridSettings:
    return GridSettings(
        database_url=grid_url, environment="test", data_dir=tmp_path / "var", cors_origins=[CONSOLE]
    )


async def test_a_console_on_another_origin_may_patch_with_if_match(client: httpx.AsyncClient) -> None:
    """grid allowed GET and POST from the /docs pages, and not PATCH nor If-Match."""
    await create_department(client, "police", name_zh="派出所", name_en="Police station", phone="110")
    preflight = await client.options(
        "/v1/departments/police",
        headers={
            "Origin": CONSOLE,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )
    read = await client.get("/v1/departments/police", headers={"Origin": CONSOLE})
    changed = await client.patch(
        "/v1/departments/police",
        json={"phone": "0592-110"},
        headers={"Origin": CONSOLE, "If-Match": read.headers["ETag"]},
    )

    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == CONSOLE
    assert changed.status_code == 200, changed.text
    for answer in (read, changed):
        assert answer.headers["access-control-allow-origin"] == CONSOLE
        assert "ETag" in answer.headers["access-control-expose-headers"].split(", ")
