"""A small office for the daily log: two communities of two cells, their workers and leaders.

``as_(username)`` gives the headers of one of them (their role from :data:`TEAM`); ``write``
posts an entry as a worker. The service's clock stands at noon of :data:`TODAY` in the
office (Asia/Shanghai, the default) unless a test moves it with ``clock``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.grid.logbook import service
from tests.grid.conftest import Bearer
from tests.grid.factories import (
    CELL_A1,
    CELL_A2,
    CELL_B1,
    CELL_B2,
    COMMUNITY_A,
    COMMUNITY_B,
    import_territory,
)

TEAM: dict[str, tuple[str, list[str]]] = {
    "wang.fang": ("grid_worker", [CELL_A1, CELL_A2]),
    "li.na": ("grid_worker", [CELL_A2]),
    "zhou.jie": ("grid_assistant", [CELL_A1]),
    "zhang.wei": ("grid_worker", [CELL_B1, CELL_B2]),
    "lin.zhiming": ("grid_leader", [COMMUNITY_A]),
    "huang.meiling": ("grid_leader", [COMMUNITY_B]),
    "hong.yi": ("dispatcher", []),
    "ke.jianhua": ("handler", []),
}
"""Username → role and assigned regions. Besides them: ``gone.worker`` (inactive, in A1) and
``new.worker`` (no cell yet), whom the check of who has not logged leaves out."""

As = Callable[[str], dict[str, str]]
Write = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
async def team(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    response = await client.post(
        "/v1/departments", json={"code": "police", "name_zh": "派出所", "name_en": "Police"}
    )
    assert response.status_code == 201, response.text
    for username, (role, regions) in TEAM.items():
        body: dict[str, Any] = {"username": username, "name": username, "role": role, "region_codes": regions}
        if role == "handler":
            body["department_code"] = "police"
        response = await client.post("/v1/staff", json=body)
        assert response.status_code == 201, response.text
    for username, regions, active in (("gone.worker", [CELL_A1], False), ("new.worker", [], True)):
        body = {"username": username, "name": username, "role": "grid_worker", "region_codes": regions}
        response = await client.post("/v1/staff", json={**body, "active": active})
        assert response.status_code == 201, response.text


@pytest.fixture
def as_(bearer: Bearer) -> As:
    """The headers of a member of the team, with the role grid gave them (their token's regions
    are left empty: grid reads their assignments from its own tables)."""

    def headers(username: str) -> dict[str, str]:
        role = TEAM[username][0] if username in TEAM else "grid_worker"
        return bearer(role, id=username)

    return headers


@pytest.fixture
def write(anonymous: httpx.AsyncClient, as_: As) -> Write:
    async def post(username: str, grid_cell: str | None = None, **fields: Any) -> httpx.Response:
        body = {"grid_cell": grid_cell, "patrol": "巡查中山路沿线", **fields}
        return await anonymous.post("/v1/patrol-logs", json=body, headers=as_(username))

    return post


Clock = Callable[[datetime], None]

TODAY = date(2026, 12, 5)
NOON = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
"""12:00 of :data:`TODAY` in Xiamen."""


def day(offset: int) -> str:
    """The office day ``offset`` days from :data:`TODAY`, as the API writes it."""
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """``clock(moment)``: the daily log's service takes ``moment`` for now (:data:`NOON` until then)."""

    def set_now(moment: datetime) -> None:
        monkeypatch.setattr(service, "utcnow", lambda: moment)

    set_now(NOON)
    return set_now
