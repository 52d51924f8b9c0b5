"""The errors every service raises, and the problem each is rendered as (the handlers that
render them, and every other exception: ``shared.error_handlers``).

Each error carries its HTTP status and a problem type, and is rendered as RFC 9457
``application/problem+json``::

    WanggeError                       500  (never raised directly)
    ├── BadRequest                    400
    ├── Unauthorized                  401
    ├── Forbidden                     403
    ├── NotFound                      404
    ├── Conflict                      409
    │   └── IllegalTransition         409  names the current state
    ├── RequestTimeout                408  a body that took too long to arrive
    ├── PayloadTooLarge               413
    ├── UnsupportedMediaType          415  a JSON body sent as another type
    ├── Unprocessable                 422
    ├── PreconditionFailed            412  stale If-Match
    ├── PreconditionRequired          428  missing If-Match
    ├── TooManyRequests               429  a limit reached, with Retry-After
    └── ServiceUnavailable            503  a peer or the database is out of reach
        └── PeerUnavailable           503  raised by the inter-service clients

Validation errors from FastAPI/pydantic become 422 problems with an ``errors`` list. The
database's own refusals are sorted too: a value it will not store is a 422, a database out
of reach a 503 (``shared.db.refused_value``, ``shared.db.out_of_reach``). Any other exception
is logged and becomes a bare 500 problem that leaks nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from fastapi.encoders import jsonable_encoder
from starlette.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://wangge.dev/problems/"


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
