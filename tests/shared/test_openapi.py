"""Each service's OpenAPI says what its errors are: problem+json, on every route they can reach.

Clients are generated from these documents; an error documented as another shape (FastAPI's
``HTTPValidationError``) or not at all (the 413 of the body bound) is one they cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.dispatch.app import create_app as dispatch_app
from services.dispatch.settings import DispatchSettings
from services.grid.app import create_app as grid_app
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from shared.api import DOCS_ASSETS
from shared.errors import PROBLEM_JSON

APPS: dict[str, Callable[[], FastAPI]] = {"intake": intake_app, "dispatch": dispatch_app, "grid": grid_app}
METHODS = {"get", "post", "put", "patch", "delete"}
TOKEN = "POST /v1/auth/token"


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


@pytest.fixture(params=sorted(APPS))
def schema(request: pytest.FixtureRequest) -> dict[str, Any]:
    app: FastAPI = APPS[request.param]()
    document: dict[str, Any] = app.openapi()
    return document


OPEN311_ERRORS = {
    "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Open311Error"}}}
}
"""intake's Open311 routes answer errors as GeoReport v2 says, the one form its clients read."""


def test_every_error_is_documented_as_a_problem(schema: dict[str, Any]) -> None:
    wrong = {
        (name, status): list(response.get("content", {}))
        for name, operation in operations(schema)
        for status, response in operation["responses"].items()
        if status[0] in "45"
        and (
            response.get("content") != OPEN311_ERRORS
            if name.split()[1].startswith("/open311/")
            else list(response.get("content", {})) != [PROBLEM_JSON]
        )
    }
    assert wrong == {}
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_errors_no_route_declares_are_documented_where_they_can_happen(schema: dict[str, Any]) -> None:
    for name, operation in operations(schema):
        statuses = set(operation["responses"])
        if "requestBody" in operation:
            # The token endpoint refuses a bad form as RFC 6749 says: 400 invalid_request, no 422.
            # Open311 answers a request it cannot take 400, as GeoReport v2 does: no 422 either.
            refusing = {"400", "413"} if name == TOKEN or "/open311/" in name else {"400", "413", "422"}
            assert refusing <= statuses, name
        if operation.get("security"):
            assert {"401", "403"} <= statuses, name


def test_no_operation_documents_a_header_openapi_ignores(schema: dict[str, Any]) -> None:
    """OpenAPI 3.1, 4.8.12.1: a header parameter named Accept, Content-Type or Authorization
    SHALL be ignored; the photo upload's Content-Type was one (a generator made it an argument)."""
    ignored = [
        (name, parameter["name"])
        for name, operation in operations(schema)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header"
        and parameter["name"].lower() in ("accept", "content-type", "authorization")
    ]
    assert ignored == []


def test_the_token_endpoint_documents_rfc_6749s_statuses() -> None:
    """400 for a refused request or grant, 401 for a refused client, 429 for a username locked
    after failed sign-ins; no 422 (it answers none)."""
    operation = dict(operations(grid_app().openapi()))[TOKEN]
    assert sorted(operation["responses"]) == ["200", "400", "401", "413", "429"]


COMMANDS = (
    "dispatch",
    "accept",
    "return",
    "resolve",
    "verify",
    "reassign",
    "close",
    "reject",
    "feedback",
    "urge",
    "extension-request",
    "extend",
    "extension-refusal",
    "notes",
)
ANSWERS_ETAG: dict[str, set[str]] = {
    "intake": {
        "GET /v1/reports/{report_id} 200",
        "GET /v1/reports/{report_id} 304",
        *(
            f"GET /v1/photos/{{photo_id}}{part} {status}"
            for part in ("", "/thumbnail")
            for status in (200, 304)
        ),
    },
    "dispatch": {
        "GET /v1/cases/{case_id} 200",
        *(f"POST /v1/cases/{{case_id}}/{c} 200" for c in COMMANDS),
        "GET /v1/calendar/{year} 200",
        "PUT /v1/calendar/{year} 200",
    },
    "grid": {
        "GET /v1/territory/cells 200",
        "GET /v1/territory/cells 304",
        *(f"POST /v1/{kind} 201" for kind in ("departments", "catalog", "staff")),
        *(f"GET /v1/{kind}/{{code}} 200" for kind in ("departments", "catalog")),
        *(f"PATCH /v1/{kind}/{{code}} 200" for kind in ("departments", "catalog")),
        "GET /v1/staff/{username} 200",
        "PATCH /v1/staff/{username} 200",
        "PUT /v1/staff/{username}/assignments 200",
        "POST /v1/patrol-logs 201",
        "GET /v1/patrol-logs/{log_id} 200",
        "PATCH /v1/patrol-logs/{log_id} 200",
    },
}


@pytest.mark.parametrize("name", APPS)
def test_every_answer_with_an_etag_declares_the_header(name: str) -> None:
    """A client generated from the document reads the ETag it must send back as If-Match; the
    case's was answered and never declared."""
    declared = {
        f"{operation} {status}"
        for operation, spec in operations(APPS[name]().openapi())
        for status, response in spec["responses"].items()
        if "ETag" in response.get("headers", {})
    }
    assert declared == ANSWERS_ETAG[name]


async def test_the_413_the_document_names_is_what_a_client_gets() -> None:
    app = intake_app()
    documented = app.openapi()["paths"]["/v1/reports"]["post"]["responses"]["413"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://intake") as client:
        answer = await client.post("/v1/reports", content=b"{" + b" " * 2_000_000 + b"}")
    assert answer.status_code == 413
    assert answer.headers["content-type"] in documented["content"]


def test_parameter_bounds_are_json_schema_keywords(schema: dict[str, Any]) -> None:
    """``minimum``/``maximum``: a validator placed before ``Path()`` once made them ``ge``/``le``,
    which no client generator reads."""
    loose = [
        (name, parameter["name"])
        for name, operation in operations(schema)
        for parameter in operation.get("parameters", [])
        if {"ge", "le", "gt", "lt"} & set(parameter["schema"])
    ]
    assert loose == []


def test_a_patch_body_documents_null_only_where_it_clears() -> None:
    schemas = grid_app().openapi()["components"]["schemas"]
    nullable = {
        model: sorted(
            name
            for name, field in schemas[model]["properties"].items()
            if {"type": "null"} in field.get("anyOf", [])
        )
        for model in ("StaffUpdate", "CategoryUpdate", "DepartmentUpdate")
    }
    assert nullable == {  # null elsewhere is a 422 (shared.schemas.Changes); these were all nullable
        "StaffUpdate": ["department_code", "phone"],
        "CategoryUpdate": ["department_code"],
        "DepartmentUpdate": ["phone"],
    }


@pytest.mark.parametrize("name", APPS)
async def test_docs_pages_load_their_scripts_from_the_service_not_a_cdn(name: str) -> None:
    """A city office's intranet may reach no CDN: /docs and /redoc were blank there."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(APPS[name]()), base_url="http://svc"
    ) as client:
        pages = [await client.get(page) for page in ("/docs", "/redoc")]
        assets = {
            src
            for page in pages
            for src in re.findall(r'(?:src|href)="([^"]+)"', page.text)
            if not src.startswith("#")
        }
        assert assets and all(src.startswith(f"{DOCS_ASSETS}/") for src in assets), assets
        for src in assets:  # without a token, as the page loads them
            answer = await client.get(src)
            assert answer.status_code == 200 and len(answer.content) > 1000, (src, answer.status_code)
    assert all(page.status_code == 200 and "cdn." not in page.text for page in pages)


def token_urls(app: FastAPI) -> set[str]:
    schemes = app.openapi()["components"]["securitySchemes"].values()
    return {scheme["flows"]["password"]["tokenUrl"] for scheme in schemes}


@pytest.mark.parametrize(
    ("create", "settings"), [(intake_app, IntakeSettings), (dispatch_app, DispatchSettings)]
)
def test_docs_authorize_asks_grid_where_a_browser_reaches_it(create: Any, settings: Any) -> None:
    """Under compose, intake and dispatch reach grid as http://grid:8003, which no browser can."""
    inside = {
        "database_url": "sqlite+aiosqlite://",
        "background_tasks": False,
        "grid_url": "http://grid:8003",
    }
    assert token_urls(create(settings(**inside))) == {"http://grid:8003/v1/auth/token"}
    public = settings(**inside, public_grid_url="https://grid.example.gov.cn")
    assert token_urls(create(public)) == {"https://grid.example.gov.cn/v1/auth/token"}
