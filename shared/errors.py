"""The errors every service raises, and the one place that renders them.

Each error carries its HTTP status and a problem type, and is rendered as RFC 9457
``application/problem+json``::

    WanggeError                       500  (never raised directly)
    ├── BadRequest                    400
    ├── Unauthorized                  401
    ├── Forbidden                     403
    ├── NotFound                      404
    ├── Conflict                      409
    │   └── IllegalTransition         409  names the current state
    ├── PayloadTooLarge               413
    ├── UnsupportedMediaType          415  a JSON body sent as another type
    ├── Unprocessable                 422
    ├── PreconditionFailed            412  stale If-Match
    ├── PreconditionRequired          428  missing If-Match
    └── ServiceUnavailable            503  a peer or the database is out of reach
        └── PeerUnavailable           503  raised by the inter-service clients

Validation errors from FastAPI/pydantic become 422 problems with an ``errors`` list. The
database's own refusals are sorted too: a value it will not store is a 422, a database out
of reach a 503 (``shared.db.refused_value``, ``shared.db.out_of_reach``). Any other exception
is logged and becomes a bare 500 problem that leaks nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import aborted_by_concurrency, out_of_reach, refused_value

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://wangge.dev/problems/"

log = logging.getLogger("wangge.errors")

ASKED_METHOD = "wangge.asked_method"
"""In the scope of a HEAD answered as its GET (``shared.api.HeadAsGet``): the method the
client sent, for the logs."""


class WanggeError(Exception):
    status = 500
    type = "internal"
    title = "Internal error"
    headers: Mapping[str, str] | None = None

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            problem["instance"] = instance
        problem.update(self.extra)
        return problem


class BadRequest(WanggeError):
    status, type, title = 400, "bad-request", "Bad request"


class Unauthorized(WanggeError):
    status, type, title = 401, "unauthorized", "Authentication required"
    headers: Mapping[str, str] | None = MappingProxyType({"WWW-Authenticate": "Bearer"})


class InvalidToken(Unauthorized):
    """A Bearer token that was sent and is not good (expired, malformed, not grid's): RFC 6750's
    ``error="invalid_token"`` in the challenge, which OAuth 2.0 client libraries read as "refresh
    the token and try again". Without a token the challenge stays a bare ``Bearer``."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        description = detail.replace("\\", "").replace('"', "'")
        self.headers = {
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'
        }


class Forbidden(WanggeError):
    status, type, title = 403, "forbidden", "Not allowed"


class NotFound(WanggeError):
    status, type, title = 404, "not-found", "Not found"


class MethodNotAllowed(WanggeError):
    status, type, title = 405, "method-not-allowed", "Method not allowed"


class Conflict(WanggeError):
    status, type, title = 409, "conflict", "Conflict"


class IllegalTransition(Conflict):
    type, title = "illegal-transition", "Illegal transition"

    def __init__(self, action: str, current_state: str, *, doing: str | None = None) -> None:
        """``action``: the command, as the API names it; ``doing``: what it does, as the
        detail says it where the command's name is no verb (``request an extension of``)."""
        super().__init__(
            f"cannot {doing or action} a case that is {current_state}",
            action=action,
            current_state=current_state,
        )


class RequestTimeout(WanggeError):
    status, type, title = 408, "request-timeout", "Request timeout"
    # The body was not read to its end: the connection cannot carry another request.
    headers: Mapping[str, str] | None = MappingProxyType({"Connection": "close"})


class PreconditionFailed(WanggeError):
    status, type, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(WanggeError):
    status, type, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(WanggeError):
    status, type, title = 415, "unsupported-media-type", "Unsupported media type"


class Unprocessable(WanggeError):
    status, type, title = 422, "unprocessable", "Unprocessable request"


class PreconditionRequired(WanggeError):
    status, type, title = 428, "precondition-required", "Precondition required"


class TooManyRequests(WanggeError):
    status, type, title = 429, "too-many-requests", "Too many requests"


class ServiceUnavailable(WanggeError):
    status, type, title = 503, "unavailable", "Service unavailable"


class PeerUnavailable(ServiceUnavailable):
    type, title = "peer-unavailable", "A peer service is unavailable"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:  # it echoes a client's lone surrogate ("\ud800"): escaped, not a 500
            return json.dumps(content, separators=(",", ":")).encode()


def problem_response(problem: dict[str, Any], headers: Mapping[str, str] | None = None) -> JSONResponse:
    return ProblemResponse(jsonable_encoder(problem), status_code=problem["status"], headers=headers)


def problem_responses(*errors: type[WanggeError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the errors a route can raise."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        responses[error.status] = {
            "description": error.title,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return responses


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


_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")

PATTERN_MEANINGS: dict[str, str] = {}
"""What a value matching each of the codes' patterns is, in words (:func:`explain_pattern`)."""


def explain_pattern(pattern: str, meaning: str) -> str:
    """``pattern``, noted with what a value matching it is (``a department's code, …``): a
    value that does not match is then refused saying that, not with the regular expression."""
    PATTERN_MEANINGS[pattern] = meaning
    return pattern


def error_message(error: Any) -> str:
    """A pydantic error's message for the reader (an API's client, the CLI's operator): without
    the prefix pydantic puts before what a validator raised (``Value error, 2026-10-01 is listed
    twice``), and a code that does not match its pattern said in words where the pattern's
    meaning is known (``should be a department's code … not its name``, not ``String should
    match pattern '^[a-z][a-z0-9-]{1,31}$'``)."""
    if error.get("type") == "string_pattern_mismatch":
        meaning = PATTERN_MEANINGS.get(str(error.get("ctx", {}).get("pattern", "")))
        if meaning is not None:
            return f"should be {meaning}"
    message = str(error.get("msg", ""))
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return message


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
