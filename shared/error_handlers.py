"""How every exception a service meets becomes an RFC 9457 problem: its own errors
(``shared.errors``), FastAPI's validation errors (a 422 with an ``errors`` list), Starlette's
HTTP errors, the database's refusals (a value it will not store a 422, a database out of reach
a 503: ``shared.db.refused_value``, ``shared.db.out_of_reach``), and any other exception,
logged and answered with a bare 500 problem that leaks nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import aborted_by_concurrency, out_of_reach, refused_value
from shared.errors import (
    PROBLEM_BASE,
    BadRequest,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    WanggeError,
    error_message,
    problem_response,
)

log = logging.getLogger("wangge.errors")

ASKED_METHOD = "wangge.asked_method"
"""In the scope of a HEAD answered as its GET (``shared.api.HeadAsGet``): the method the
client sent, for the logs."""


_STATUS_TYPES = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
    428: PreconditionRequired,
    503: ServiceUnavailable,
}


async def _wangge_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WanggeError)
    return problem_response(exc.to_problem(request.url.path), headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    media = _other_than_json(request)
    if media is not None:
        return problem_response(
            UnsupportedMediaType(f"the body is JSON: send it as application/json ({media})").to_problem(
                request.url.path
            )
        )
    broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
    if broken is not None:  # FastAPI's loc is ("body", <character offset>): not a field
        at = broken.get("loc", ("body", "?"))[-1]
        reason = broken.get("ctx", {}).get("error", "malformed")
        return problem_response(
            BadRequest(f"the body is not valid JSON: {reason} (at character {at})").to_problem(
                request.url.path
            )
        )
    errors = [
        {"loc": list(e.get("loc", ())), "msg": error_message(e), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"])
    problem = Unprocessable(f"{where}: {message}" if where else message).to_problem(request.url.path)
    problem.update(type=PROBLEM_BASE + "validation", title="Validation failed", errors=errors)
    return problem_response(problem)


def _other_than_json(request: Request) -> str | None:
    """How a JSON body came declared when not as JSON (``application/json`` or ``…+json``), or
    None. FastAPI reads a body declared as anything else, or not declared, as bytes, and its
    model then fails as "not a valid dictionary": a 422 for what is the wrong media type. A
    request with no body at all is not this. (The services declare no form bodies: grid reads
    its token form by hand, without a route body.)"""
    if getattr(request.scope.get("route"), "body_field", None) is None:
        return None
    declared = request.headers.get("content-type")
    if not declared:
        sent = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
        return "it came with no Content-Type" if sent else None
    media = declared.split(";", 1)[0].strip().lower()
    return None if media == "application/json" or media.endswith("+json") else f"it came as {media}"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error_type = _STATUS_TYPES.get(exc.status_code, WanggeError)
    path = request.url.path
    meant = _meant_without_slash(request) if exc.status_code == 404 else None
    detail = f"paths take no trailing slash: {meant}" if meant else str(exc.detail)
    if exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's
        detail = "the body could not be parsed as JSON (nested too deep, or not UTF-8)"
    problem = error_type(detail).to_problem(path)
    problem["status"] = exc.status_code
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return problem_response(problem, headers=headers)


def _allowed_methods(request: Request) -> str:
    """A 405's ``Allow``: every method the path is served with. Starlette names those of the
    first route whose path matched, and FastAPI makes a route of each method, so
    ``PUT /v1/keys`` answered ``Allow: POST`` though ``GET /v1/keys`` is served as well. HEAD
    goes with GET (``shared.api.HeadAsGet``)."""
    routes = getattr(request.scope.get("app"), "routes", ())
    methods = {
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    }
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _meant_without_slash(request: Request) -> str | None:
    """The path without its trailing slash, where a route takes it (the services never redirect)."""
    path = request.url.path
    if len(path) < 2 or not path.endswith("/") or "endpoint" in request.scope:
        return None  # with an endpoint, the 404 came from inside a route or mount, not routing
    scope = {**request.scope, "path": path.rstrip("/")}
    routes = [r for r in getattr(request.scope.get("app"), "routes", ()) if not isinstance(r, Mount)]
    return scope["path"] if any(route.matches(scope)[0] is not Match.NONE for route in routes) else None


def _asked(scope: Mapping[str, Any]) -> str:
    """The method the client sent: a HEAD is answered as its GET (``ASKED_METHOD``)."""
    return str(scope.get(ASKED_METHOD, scope["method"]))


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """What the database refused or could not do: the client's 422, a 503 to retry, or a 500."""
    where = f"{_asked(request.scope)} {request.url.path}"
    if refused_value(exc):
        log.warning("the database refused a value on %s: %s", where, getattr(exc, "orig", exc))
        error: WanggeError = Unprocessable(
            "a value in the request cannot be stored (out of range or malformed)"
        )
    elif aborted_by_concurrency(exc):
        log.warning("a concurrent transaction aborted %s: %s", where, getattr(exc, "orig", exc))
        error = ServiceUnavailable("the request met a concurrent one in the database; retry it")
    elif out_of_reach(exc):
        log.warning("the database is out of reach on %s: %s: %s", where, type(exc).__name__, exc)
        error = ServiceUnavailable("the database is out of reach; retry shortly")
    else:  # answered here rather than by ServerErrorMiddleware: logged with its traceback all the same
        return await _unexpected_error(request, exc)
    return problem_response(error.to_problem(request.url.path))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", _asked(request.scope), request.url.path, exc_info=exc)
    return problem_response(WanggeError().to_problem(request.url.path))


class AnswerUnexpectedErrors:
    """The outermost of a service's own middleware: an exception no handler took is logged once,
    with its traceback, and answered with the bare 500 problem.

    Starlette sends exceptions of any class to ``ServerErrorMiddleware``, which answers with
    the handler and then raises the exception again, for the server to log: every unexpected
    error was logged twice, by ``wangge.errors`` and by uvicorn. An error after the response
    began cannot be answered; it goes on to the server, which logs it and closes the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if response_started:
                raise
            log.exception("unhandled error on %s %s", _asked(scope), scope["path"], exc_info=exc)
            await problem_response(WanggeError().to_problem(scope["path"]))(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WanggeError, _wangge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for database_error in (DBAPIError, OSError, TimeoutError, PoolTimeout):
        app.add_exception_handler(database_error, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)  # behind AnswerUnexpectedErrors
