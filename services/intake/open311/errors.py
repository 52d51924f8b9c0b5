"""Open311's errors: ``[{"code": 400, "description": "…"}]`` with the status, where the rest of
wangge answers RFC 9457 problems. An Open311 client parses its own form only, and takes a bad
request as a 400, as the spec's examples answer it: a 422 is answered 400.

One middleware rewrites every problem answered under ``/open311/`` (a refused token, a body
over the bound and a validation error alike), so no route has a second way of failing.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.intake.open311.schemas import Open311Error
from shared.errors import PROBLEM_JSON

OPEN311_PREFIX = "/open311/"
XML_NOT_SERVED = "GeoReport v2 is served here as JSON only: ask for the same path ending in .json"
"""A client asking for the spec's XML form (``requests.xml``) heard only 'Not Found'."""


def open311_errors(problem: dict[str, Any]) -> list[dict[str, Any]]:
    """The Open311 errors saying what ``problem`` says: a validation problem's each error, or its
    detail."""
    status = open311_status(int(problem.get("status", 500)))
    errors = problem.get("errors") or []
    if not errors:
        return [{"code": status, "description": str(problem.get("detail") or problem.get("title", ""))}]
    return [
        {
            "code": status,
            "description": f"{'.'.join(str(part) for part in error.get('loc', [])[1:])}: "
            f"{error.get('msg', '')}".lstrip(": "),
        }
        for error in errors
    ]


def open311_status(status: int) -> int:
    """A request wangge cannot take is a 400 in GeoReport v2, never a 422 (a value out of
    range, a query parameter no route takes, an Idempotency-Key reused with another form)."""
    return 400 if status == 422 else status


class Open311Errors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(OPEN311_PREFIX):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def rewriting(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message["headers"]))
                if headers.get("content-type", "").startswith(PROBLEM_JSON):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                problem = orjson.loads(bytes(body) or b"{}")
                if start["status"] == 404 and scope["path"].endswith(".xml"):
                    problem = {**problem, "detail": XML_NOT_SERVED}
                rewritten = orjson.dumps(open311_errors(problem))
                headers = MutableHeaders(raw=list(start["headers"]))
                headers["content-type"] = "application/json"
                headers["content-length"] = str(len(rewritten))
                await send({**start, "status": open311_status(start["status"]), "headers": headers.raw})
                await send({"type": "http.response.body", "body": rewritten, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, rewriting)


def document_open311_errors(app: Any) -> None:
    """In the OpenAPI, every error under ``/open311/`` in Open311's form, not as a problem."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema: dict[str, Any] = build()
        if schema.get("x-open311-errors"):
            return schema
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("Open311Error", Open311Error.model_json_schema())
        errors = {"type": "array", "items": {"$ref": "#/components/schemas/Open311Error"}}
        for path, item in schema.get("paths", {}).items():
            if not path.startswith(OPEN311_PREFIX):
                continue
            for operation in item.values():
                responses = operation.get("responses", {})
                if "422" in responses:  # answered 400 (open311_status)
                    responses.pop("422")
                    responses.setdefault("400", {"description": "the request is not one Open311 takes"})
                for status, response in responses.items():
                    if status[0] in "45":
                        response["content"] = {"application/json": {"schema": errors}}
        schema["x-open311-errors"] = True
        return schema

    app.openapi = openapi
