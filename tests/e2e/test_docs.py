"""The interactive docs a person opens: each service's OpenAPI signs in at grid."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import System

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_authorize_on_every_docs_page_gets_a_token_from_grid(system: System) -> None:
    for name in ("intake", "dispatch", "grid"):
        schema = httpx.get(f"{system.url(name)}/openapi.json").json()
        flows = [s["flows"]["password"] for s in schema["components"]["securitySchemes"].values()]
        expected = "/v1/auth/token" if name == "grid" else f"{system.url('grid')}/v1/auth/token"
        assert [flow["tokenUrl"] for flow in flows] == [expected], name

    # The browser on intake's /docs posts the form to grid, which lets that origin read the answer.
    origin = system.url("intake")
    answer = httpx.post(
        f"{system.url('grid')}/v1/auth/token",
        data={"grant_type": "password", "username": "wang.fang", "password": "wangge-demo"},
        headers={"Origin": origin},
    )
    assert answer.status_code == 200
    assert answer.headers.get("access-control-allow-origin") == origin
