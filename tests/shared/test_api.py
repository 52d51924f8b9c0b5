"""What every service app does before a route runs: the body bound, and errors as problems."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from services.dispatch.app import create_app as dispatch_app
from shared.api import create_service_app
from shared.errors import PROBLEM_JSON
from shared.settings import ServiceSettings

BOUND = ServiceSettings.model_fields["max_body_bytes"].default


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(dispatch_app()), base_url="http://dispatch")


async def test_a_body_over_the_bound_is_413_declared_or_streamed() -> None:
    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: chunked, counted as it comes
        yield b'{"note": "'
        for _ in range(BOUND // 65_536 + 2):
            yield b"x" * 65_536
        yield b'"}'

    async with client() as dispatch:
        declared = await dispatch.post("/v1/cases/1/notes", content=b"x" * (BOUND + 1))
        chunked = await dispatch.post("/v1/cases/1/notes", content=streamed())
    for answer in (declared, chunked):
        assert answer.status_code == 413, answer.text  # the streamed one was a 400
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert answer.json()["detail"] == f"request body is larger than {BOUND} bytes"


async def test_head_is_served_wherever_get_is_with_the_headers_alone() -> None:
    async with client() as dispatch:
        head = await dispatch.head("/healthz")
        get = await dispatch.get("/healthz")
        not_get = await dispatch.head("/internal/v1/inbox")  # a POST route
    assert head.status_code == 200  # was a 405
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] != "0"
    assert not_get.status_code == 405


async def test_a_method_a_path_does_not_take_is_405_not_an_internal_error() -> None:
    async with client() as dispatch:
        answer = await dispatch.delete("/healthz")
    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, HEAD")
    assert answer.json()["title"] == "Method not allowed"  # was "Internal error"


async def test_a_405_allows_every_method_the_path_is_served_with() -> None:
    """FastAPI makes a route of each method, and Starlette's 405 named the first route's only:
    ``DELETE /v1/calendar/2026`` answered ``Allow: GET`` though a PUT sets the calendar."""
    async with client() as dispatch:
        answer = await dispatch.delete("/v1/calendar/2026")
        options = await dispatch.options("/v1/cases/1/notes")
    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, HEAD, PUT")
    assert (options.status_code, options.headers["allow"]) == (405, "POST")


async def test_a_body_that_is_not_json_is_400_saying_so() -> None:
    """Malformed JSON was a 422 whose field was the character offset (``body.13``)."""
    async with client() as dispatch:
        cut_short = await dispatch.post(
            "/internal/v1/inbox", content=b'{"messages": [],', headers={"content-type": "application/json"}
        )
        too_deep = await dispatch.post(
            "/internal/v1/inbox",
            content=b"[" * 2000 + b"]" * 2000,
            headers={"content-type": "application/json"},
        )
    assert cut_short.status_code == 400, cut_short.text
    assert cut_short.headers["content-type"] == PROBLEM_JSON
    assert cut_short.json()["detail"].startswith("the body is not valid JSON: ")
    assert "(at character 16)" in cut_short.json()["detail"]
    assert too_deep.status_code == 400
    assert "could not be parsed as JSON" in too_deep.json()["detail"]


async def test_a_trailing_slash_is_a_404_naming_the_path_meant_not_a_redirect() -> None:
    """It was a 307 with an empty body, which behind a proxy ending TLS sent a POST to plain http."""
    async with client() as dispatch:
        slashed = await dispatch.post("/internal/v1/inbox/", json={"messages": []})
        unknown = await dispatch.get("/v1/nothing-here/")
        in_assets = await dispatch.get("/docs-assets/healthz/")  # a mount's own 404: no hint
    assert slashed.status_code == 404, slashed.text
    assert "location" not in slashed.headers
    assert slashed.headers["content-type"] == PROBLEM_JSON
    assert slashed.json()["detail"] == "paths take no trailing slash: /internal/v1/inbox"
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "Not Found")
    assert (in_assets.status_code, in_assets.json()["detail"]) == (404, "Not Found")


async def test_a_query_parameter_the_route_does_not_take_is_422_naming_it() -> None:
    """``?order=deadline`` and ``?updated_since=`` were ignored with a 200, and a client took its
    list for sorted or filtered. A parameter the route takes passes (here on to the guard)."""
    async with client() as dispatch:
        sorted_ = await dispatch.get("/v1/cases", params={"order": "deadline", "status": "triage"})
        known = await dispatch.get("/v1/cases", params={"status": "triage", "limit": 5})
        probe = await dispatch.get("/healthz", params={"verbose": "1"})
    assert sorted_.status_code == 422, sorted_.text
    assert sorted_.headers["content-type"] == PROBLEM_JSON
    (error,) = sorted_.json()["errors"]
    assert error["loc"] == ["query", "order"]
    assert "status" in error["msg"] and "overdue" in error["msg"]  # what it does take
    assert known.status_code == 401  # the token is what it lacks
    assert probe.status_code == 422
    assert probe.json()["errors"][0]["msg"] == "this route takes no such query parameter"


async def test_a_query_parameter_given_twice_that_takes_one_value_is_422() -> None:
    """``since=…&since=…`` took the last and said nothing; a parameter that takes several
    (``status=triage&status=dispatched``) still does."""
    async with client() as dispatch:
        twice = await dispatch.get("/v1/cases", params=[("limit", "5"), ("limit", "50")])
        several = await dispatch.get("/v1/cases", params=[("status", "triage"), ("status", "dispatched")])
    assert twice.status_code == 422, twice.text
    (error,) = twice.json()["errors"]
    assert (error["loc"], error["msg"]) == (
        ["query", "limit"],
        "this query parameter takes one value: give it once",
    )
    assert several.status_code == 401  # taken: the token is what it lacks


async def test_an_unexpected_error_is_answered_500_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Starlette answered it and raised it again, and uvicorn logged the traceback a second time;
    the test transport raises what the app raises, as the server would see it."""
    router = APIRouter()

    @router.get("/v1/broken")
    async def broken() -> None:
        raise KeyError("a bug")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = create_service_app(
        title="t", description="", lifespan=lifespan, max_body_bytes=BOUND, routers=[router]
    )
    with caplog.at_level(logging.ERROR):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as service:
            answer = await service.get("/v1/broken")
            head = await service.head("/v1/broken")

    assert answer.status_code == 500 and head.status_code == 500
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["title"] == "Internal error" and "a bug" not in answer.text
    logged = [(r.name, r.getMessage()) for r in caplog.records if r.exc_info]
    assert logged == [
        ("wangge.errors", "unhandled error on GET /v1/broken"),
        ("wangge.errors", "unhandled error on HEAD /v1/broken"),
    ]


async def test_a_head_that_met_an_error_of_the_database_or_the_disk_is_logged_as_head(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Those errors have a handler of their own (a 422, a 503, or the 500 here), which named the
    GET a HEAD is answered as: an operator looked for a GET that nobody sent."""
    router = APIRouter()

    @router.get("/v1/photo")
    async def photo() -> None:
        raise FileNotFoundError("the photo's file is gone")

    @router.get("/v1/busy")
    async def busy() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("the database is down"))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = create_service_app(
        title="t", description="", lifespan=lifespan, max_body_bytes=BOUND, routers=[router]
    )
    with caplog.at_level(logging.WARNING):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as service:
            broken = await service.head("/v1/photo")
            unavailable = await service.head("/v1/busy")

    assert (broken.status_code, unavailable.status_code) == (500, 503)
    logged = [r.getMessage() for r in caplog.records if r.name == "wangge.errors"]
    assert logged[0] == "unhandled error on HEAD /v1/photo"
    assert logged[1].startswith("the database is out of reach on HEAD /v1/busy: ")


class Note(BaseModel):
    text: str


async def test_a_json_body_sent_as_another_media_type_is_415() -> None:
    """FastAPI read it as bytes, and the model failed as "not a valid dictionary": a 422.
    A body with no Content-Type is not read as JSON either (FastAPI's strict_content_type)."""
    router = APIRouter()

    @router.post("/v1/notes")
    async def add(note: Note) -> dict[str, str]:
        return {"text": note.text}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = create_service_app(
        title="t", description="", lifespan=lifespan, max_body_bytes=BOUND, routers=[router]
    )
    body = b'{"text": "a"}'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as service:
        answers = {
            media: await service.post("/v1/notes", content=body, headers={"Content-Type": media})
            for media in ("text/plain", "application/xml", "application/x-www-form-urlencoded")
        }
        taken = [
            await service.post("/v1/notes", content=body, headers=headers)
            for headers in (
                {"Content-Type": "application/json; charset=utf-8"},
                {"Content-Type": "application/merge-patch+json"},
                {},
            )
        ]
        invalid = await service.post("/v1/notes", json={"text": 1})
        openapi = app.openapi()

    for media, answer in answers.items():
        assert answer.status_code == 415, media
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert (
            answer.json()["detail"] == f"the body is JSON: send it as application/json (it came as {media})"
        )
    assert [answer.status_code for answer in taken] == [200, 200, 415]
    assert taken[2].json()["detail"].endswith("(it came with no Content-Type)")
    assert invalid.status_code == 422
    assert "415" in openapi["paths"]["/v1/notes"]["post"]["responses"]
    assert "415" not in openapi["paths"]["/healthz"]["get"]["responses"]
