"""What every service app has: problem+json errors, a body-size bound, health probes, CORS."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.error_handlers import ASKED_METHOD, AnswerUnexpectedErrors, install_error_handlers
from shared.errors import (
    PROBLEM_JSON,
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    WanggeError,
    problem_response,
)
from shared.schemas import Problem


class BodySizeLimit:
    """Refuses request bodies over ``max_bytes`` with a 413 problem, declared or streamed;
    ``larger`` names the paths that take more (a photo upload) and their own bound."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bound = self.larger.get(scope["path"], self.max_bytes)
        declared = _content_length(scope["headers"])
        if declared is not None and declared > bound:
            await self._refuse(scope, receive, send, bound)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > bound:
                    raise _StreamTooLarge(413, _too_large(bound).detail)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _StreamTooLarge:  # read outside a route (a route's own error handlers answer 413)
            if not response_started:
                await self._refuse(scope, receive, send, bound)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, bound: int) -> None:
        await problem_response(_too_large(bound).to_problem(scope["path"]))(scope, receive, send)


def _too_large(bound: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {bound} bytes")


class _StreamTooLarge(StarletteHTTPException):
    """A streamed body ran past the bound. An HTTP exception, as FastAPI passes those on: it
    turns any other failure to read a body into a 400 (a streamed 2.6 MB note was one)."""


class HeadAsGet:
    """``HEAD`` wherever ``GET`` is served (RFC 9110 9.3.2): the route answers the ``GET``, and
    the headers go out without the body. FastAPI's routes take only the methods they name, so
    ``curl -I /healthz`` was a 405."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET", ASKED_METHOD: "HEAD"}, receive, headers_only)


CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
"""Every method the API serves (HEAD with a token needs a preflight like the others)."""
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key")
CORS_EXPOSED_HEADERS = ("ETag", "Location", "Idempotent-Replayed", "Retry-After", "WWW-Authenticate")
"""The response headers the API gives meaning to, beyond those a page may always read."""
CORS_MAX_AGE = 7200
"""How long a browser may keep a preflight's answer (per URL): Chromium's ceiling, 2 hours."""


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS for the listed origins (``http://host:*``: any port of the host), with
    a refused preflight (an origin, method or header not allowed) answered as a 400 problem
    like every other error, not as ``text/plain``, and no CORS header at all for an origin not
    listed (Starlette exposed the headers to it all the same).

    Outermost of the service's middleware: every answer inside it, the 413 of ``BodySizeLimit``,
    the guard's 401 and 403 and the 500 of ``AnswerUnexpectedErrors`` included, carries the
    headers, so a page can read the problem and not only a network error."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        listed = [origin for origin in origins if not origin.endswith(":*")]
        any_port = [
            re.escape(origin.removesuffix(":*")) + r"(?::\d+)?" for origin in origins if origin not in listed
        ]
        super().__init__(
            app,
            allow_origins=listed,
            allow_origin_regex="|".join(any_port) or None,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=CORS_MAX_AGE,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        kept = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        detail = bytes(response.body).decode()  # "Disallowed CORS origin, method"
        return problem_response(BadRequest(detail).to_problem(), headers=kept)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if message["type"] != "http.response.start" or origin is None or self.is_allowed_origin(origin):
            await super().send(message, send, request_headers)
            return
        message.setdefault("headers", [])
        headers = MutableHeaders(scope=message)
        headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])  # for a cache on the way
        await send(message)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        """The process is up and serving requests."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness",
        responses={503: {"model": Problem, "description": "The database is out of reach"}},
    )
    async def readyz(request: Request) -> dict[str, str]:
        """The service can reach its database and take work."""
        try:
            async with request.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable("the database is out of reach") from exc
        return {"status": "ready"}

    return router


DOCS_ASSETS = "/docs-assets"
"""Where Swagger UI's and ReDoc's scripts, styles and icon are served (public, like /docs)."""


_QUERY_NAMES = "wangge_query_names"
"""Where a route keeps the query parameters it takes, worked out on its first query."""


async def no_unknown_query(request: Request) -> None:
    """A query parameter the route does not take is a 422, as an unknown body field is: a
    ``?sort=`` or ``?updated_since=`` that was silently ignored had a client believe its list
    sorted or filtered. So is one given twice that takes one value (``since=…&since=…`` took
    the last and said nothing). (Every route of every service takes it; a request with no
    query string pays one check.)"""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    taken: tuple[frozenset[str], frozenset[str]] | None = getattr(route, _QUERY_NAMES, None)
    if taken is None:
        several = _query_names(route.dependant)
        taken = frozenset(several), frozenset(name for name, repeats in several.items() if repeats)
        setattr(route, _QUERY_NAMES, taken)
    names, repeatable = taken
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in names]
    given = Counter(name for name, _ in request.query_params.multi_items())
    twice = [name for name, count in given.items() if count > 1 and name in names and name not in repeatable]
    if twice:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("query", name),
                    "msg": "this query parameter takes one value: give it once",
                    "input": request.query_params.getlist(name),
                }
                for name in twice
            ]
        )
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": "this route takes no such query parameter"
                    + (f" (it takes {', '.join(sorted(names))})" if names else ""),
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )


def _query_names(dependant: Dependant) -> dict[str, bool]:
    """The query parameters a route takes, its own and its dependencies', each with whether it
    takes several values (``status=…&status=…``)."""
    names = {param.alias: _several(param.field_info.annotation) for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _several(annotation: Any) -> bool:
    """Whether a parameter of this type takes several values: a list, also in ``X | None``."""
    if get_origin(annotation) in (Union, UnionType):
        return any(_several(member) for member in get_args(annotation))
    return get_origin(annotation) in (list, tuple, set, frozenset)


def create_service_app(
    *,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
    max_body_bytes: int,
    routers: list[APIRouter],
    cors_origins: Sequence[str] = (),
    token_url: str | None = None,
    public: Collection[tuple[str, str]] = (),
    larger_bodies: Mapping[str, int] | None = None,
    answer_rewriters: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
) -> FastAPI:
    """``max_body_bytes``: the largest request body, but for the paths ``larger_bodies``
    names, with their own bound (intake's photo uploads); ``cors_origins``: the browser origins
    allowed to call the service (``ServiceSettings``); ``token_url``: where /docs' Authorize
    gets a token (grid's, for intake and dispatch); ``public``: the ``(method, path)`` of
    routes that take no token although their router checks for one (grid's token endpoint),
    documented without the token and its 401 and 403; ``answer_rewriters``: ASGI middleware
    that rewrites answers (intake's Open311 errors), run inside the HEAD handling."""
    # No redirects for a trailing slash: Starlette's 307 had an empty body, and behind a proxy
    # that ends TLS it pointed a POST at plain http. It is a 404 that names the path meant.
    app = FastAPIOffline(  # /docs' and /redoc's scripts from here, not a CDN (an intranet has none)
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        redirect_slashes=False,
        static_url=DOCS_ASSETS,
        dependencies=[Depends(no_unknown_query)],
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, larger=larger_bodies)
    app.add_middleware(AnswerUnexpectedErrors)  # outside the others: their failures are problems too
    for extra in answer_rewriters:  # see every answer, the 500s too, before HEAD drops the body
        app.add_middleware(extra)
    app.add_middleware(HeadAsGet)
    app.add_middleware(ProblemCORSMiddleware, origins=cors_origins)  # added last: the outermost
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    _complete_openapi(app, token_url, public)
    return app


def _complete_openapi(app: FastAPI, token_url: str | None, public: Collection[tuple[str, str]]) -> None:
    """Document every error as what it is, and point /docs' Authorize at grid's token endpoint.

    Every 4xx and 5xx answer is ``application/problem+json`` with the ``Problem`` schema,
    FastAPI's own 422 (``HTTPValidationError``, ``application/json``) included. Errors no route
    declares are added where they can happen: 400 (a body that is not JSON or not UTF-8) and
    413 (``BodySizeLimit``) on every route with a body, 415 on every route with a JSON body, 401
    and 403 on every route that takes a token.
    """
    build = app.openapi
    problem_ref = {"$ref": "#/components/schemas/Problem"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.setdefault("Problem", Problem.model_json_schema())
        for path, path_item in schema.get("paths", {}).items():
            for method, operation in path_item.items():
                if (method.upper(), path) in public:
                    operation.pop("security", None)
                responses = operation.setdefault("responses", {})
                implied: list[type[WanggeError]] = []
                if "requestBody" in operation:
                    implied += [BadRequest, PayloadTooLarge]
                    if any(media.endswith("json") for media in operation["requestBody"].get("content", {})):
                        implied.append(UnsupportedMediaType)
                if operation.get("security"):
                    implied += [Unauthorized, Forbidden]
                for error in implied:
                    responses.setdefault(str(error.status), {"description": error.title})
                for status, response in responses.items():
                    if status[0] in "45":
                        response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        for scheme in components.get("securitySchemes", {}).values():
            password_flow = scheme.get("flows", {}).get("password")
            if token_url and password_flow:
                password_flow["tokenUrl"] = token_url
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
