"""CORS on every service, before any route runs: who may preflight, what a page may read,
and errors that reach the page as problems instead of as a network error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.dispatch.app import create_app as dispatch_app
from services.dispatch.settings import DispatchSettings
from services.grid.app import create_app as grid_app
from services.grid.settings import GridSettings
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from shared.errors import PROBLEM_JSON

CONSOLE = "https://console.example.gov.cn"
EVIL = "https://evil.example"
APPS: dict[str, Callable[[list[str]], FastAPI]] = {
    "intake": lambda origins: intake_app(IntakeSettings(cors_origins=origins)),
    "dispatch": lambda origins: dispatch_app(DispatchSettings(cors_origins=origins)),
    "grid": lambda origins: grid_app(GridSettings(cors_origins=origins)),
}
WRITES = {
    "intake": ("POST", "/v1/reports"),
    "dispatch": ("POST", "/v1/cases/1/accept"),
    "grid": ("PATCH", "/v1/departments/police"),
}
"""A route of each service a console writes to (no route runs here: no lifespan, no database)."""


def client(service: str, origins: list[str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(APPS[service](origins)), base_url=f"http://{service}"
    )


def preflight(
    origin: str, method: str = "POST", headers: str = "authorization, content-type"
) -> dict[str, Any]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


@pytest.mark.parametrize("service", APPS)
async def test_a_listed_origin_may_send_every_method_and_header_the_api_takes(service: str) -> None:
    """dispatch answered 405 and intake 404; grid allowed GET and POST, and not If-Match."""
    asked = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key"
    async with client(service, [CONSOLE]) as api:
        answers = [
            await api.options(WRITES[service][1], headers=preflight(CONSOLE, method, asked))
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == CONSOLE
        assert int(answer.headers["access-control-max-age"]) > 0
        allowed = {
            header.strip().lower() for header in answer.headers["access-control-allow-headers"].split(",")
        }
        assert set(asked.lower().split(", ")) <= allowed
        assert "access-control-allow-credentials" not in answer.headers  # bearer tokens, no cookies


@pytest.mark.parametrize("service", APPS)
async def test_an_error_reaches_the_page_with_the_cors_headers(service: str) -> None:
    """The guard's 401 and the body bound's 413 are answers the page must read, not a CORS failure."""
    method, path = WRITES[service]
    async with client(service, [CONSOLE]) as api:
        unauthenticated = await api.request(method, path, json={}, headers={"Origin": CONSOLE})
        too_large = await api.request(  # over every service's bound (grid's is 16 MiB)
            method, path, content=b"x" * 20_000_000, headers={"Origin": CONSOLE, "Authorization": "Bearer x"}
        )
    assert (unauthenticated.status_code, too_large.status_code) == (401, 413)
    for answer in (unauthenticated, too_large):
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert answer.headers["access-control-allow-origin"] == CONSOLE
        exposed = [header.strip() for header in answer.headers["access-control-expose-headers"].split(",")]
        assert {"ETag", "Location", "Idempotent-Replayed", "Retry-After", "WWW-Authenticate"} <= set(exposed)
    assert unauthenticated.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("service", APPS)
async def test_an_origin_not_listed_gets_no_cors_header_and_its_preflight_is_a_400_problem(
    service: str,
) -> None:
    method, path = WRITES[service]
    async with client(service, [CONSOLE]) as api:
        refused = await api.options(path, headers=preflight(EVIL, method))
        answer = await api.request(method, path, json={}, headers={"Origin": EVIL})
    assert refused.status_code == 400
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert refused.json()["detail"] == "Disallowed CORS origin"
    assert answer.status_code == 401  # served (a browser would not let the page read it)
    for response in (refused, answer):
        assert not any(name.startswith("access-control-allow-origin") for name in response.headers)
    assert not any(name.startswith("access-control-expose") for name in answer.headers)  # Starlette's did
    assert "Origin" in answer.headers["vary"]


async def test_with_no_origin_listed_a_preflight_is_refused_as_a_problem_not_405() -> None:
    async with client("dispatch", []) as api:
        refused = await api.options("/v1/cases", headers=preflight("http://localhost:5173"))
        same_origin = await api.options("/v1/cases")  # not a preflight: the route's own answer
    assert (refused.status_code, refused.json()["detail"]) == (400, "Disallowed CORS origin")
    assert same_origin.status_code == 405


async def test_a_header_or_method_the_api_does_not_take_is_refused() -> None:
    async with client("dispatch", [CONSOLE]) as api:
        header = await api.options("/v1/cases", headers=preflight(CONSOLE, headers="x-custom"))
        method = await api.options("/v1/cases", headers=preflight(CONSOLE, method="TRACE"))
    assert (header.status_code, header.json()["detail"]) == (400, "Disallowed CORS headers")
    assert (method.status_code, method.json()["detail"]) == (400, "Disallowed CORS method")


async def test_any_port_of_a_host_is_that_host_alone() -> None:
    """``http://localhost:*`` is what ``wangge up`` gives: a console's dev server on any port."""
    async with client("dispatch", ["http://localhost:*"]) as api:
        answers = {
            origin: await api.options("/v1/cases", headers=preflight(origin))
            for origin in (
                "http://localhost:5173",
                "http://localhost",
                "http://localhost.evil.example",
                "http://localhost:5173.evil.example",
                "https://localhost:5173",
                "http://127.0.0.1:5173",
            )
        }
    assert {origin: answer.status_code for origin, answer in answers.items()} == {
        "http://localhost:5173": 200,
        "http://localhost": 200,
        "http://localhost.evil.example": 400,
        "http://localhost:5173.evil.example": 400,
        "https://localhost:5173": 400,
        "http://127.0.0.1:5173": 400,
    }
