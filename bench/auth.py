"""How the harness authenticates: the ONE place that knows how.

It asks grid for an access token with the OAuth2 password grant (``POST /v1/auth/token``, the
seeded demo accounts) and answers ``{"Authorization": "Bearer <token>"}``. A grid without that
route (before verified identity) gets the ``X-Wangge-Actor``/``X-Wangge-Role`` headers the
services read then. Scenarios call this once per run and reuse the headers for every request,
so the token exchange never sits on a measured path.
"""

from __future__ import annotations

import os

import httpx

TOKEN_PATH = "/v1/auth/token"
DEMO_PASSWORD = os.environ.get("WANGGE_BENCH_PASSWORD", "wangge-demo")
# The seeded demo staff each role acts as (services/grid/seed/staff.json).
DEFAULT_USERS = {
    "grid_worker": "wang.fang",
    "dispatcher": "hong.yi",
    "supervisor": "zhuang.hui",
    "admin": "pan.jun",
}


async def auth_headers(role: str, *, grid_url: str, username: str | None = None) -> dict[str, str]:
    """Headers that let ``username`` (default: the demo user of ``role``) call the services."""
    username = username or DEFAULT_USERS.get(role, f"bench.{role}")
    form = {"grant_type": "password", "username": username, "password": DEMO_PASSWORD}
    async with httpx.AsyncClient(base_url=grid_url, timeout=10.0) as client:
        response = await client.post(TOKEN_PATH, data=form)
    if response.status_code in (404, 405):  # a grid from before verified identity
        return {"X-Wangge-Actor": username, "X-Wangge-Role": role}
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
