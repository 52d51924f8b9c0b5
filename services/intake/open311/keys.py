"""An Open311 client's ``api_key``: GeoReport v2 clients authenticate with the integration's
key in the request itself (a POST's form, a GET's query) and know nothing of Bearer tokens.

intake exchanges the key at grid's token endpoint, with client credentials as a bot does
itself, and keeps the token until shortly before it expires: a client filing a request a
minute costs grid one exchange in 14 minutes. A Bearer token still works as everywhere else,
and goes first when a request carries both.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from urllib.parse import parse_qs

import httpx
from fastapi import Request

from shared.access import Guard
from shared.auth import ServiceTokens
from shared.errors import BadRequest, Unauthorized

FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 100
"""The most ``&``-separated pieces a POST's form may have, empty ones included: a request has
15 fields at most. Within the body's 1 MiB, a form of empty fields (``a=&a=&…``) took 0.3 s of
the event loop to parse, the look for its api_key before any token was checked included."""


def check_form_size(body: bytes) -> None:
    """A 400 for a form of more pieces than :data:`MAX_FORM_FIELDS`, counted before it is parsed."""
    if body.count(b"&") >= MAX_FORM_FIELDS:
        raise BadRequest(f"a service request's form has at most {MAX_FORM_FIELDS} &-separated pieces")


class KeyTokens:
    """The access tokens of the api_keys Open311 clients sent, by the key's digest (the key
    itself is not kept), at most ``size`` of them, the least recently used dropped first."""

    def __init__(self, http: httpx.AsyncClient, *, size: int = 256) -> None:
        self._http = http
        self._size = size
        self._tokens: OrderedDict[str, ServiceTokens] = OrderedDict()

    async def token(self, api_key: str) -> str:
        key_id, dot, secret = api_key.partition(".")
        if not (dot and key_id and secret):
            raise Unauthorized("api_key is not an integration key (<id>.<secret>, as the office issued it)")
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        tokens = self._tokens.get(digest)
        if tokens is None:
            tokens = self._tokens[digest] = ServiceTokens(self._http, client_id=key_id, client_secret=secret)
            if len(self._tokens) > self._size:
                self._tokens.popitem(last=False)
        else:
            self._tokens.move_to_end(digest)
        try:
            return await tokens.token()
        except Unauthorized:  # not cached: the next try asks grid again
            self._tokens.pop(digest, None)
            raise Unauthorized("grid refused the api_key: revoked, or not a key it issued") from None


class Open311Guard(Guard):
    """The guard of Open311's routes: the Bearer token, else the ``api_key`` the request carries."""

    missing_token = (
        "send the integration's api_key in the form (application/x-www-form-urlencoded, as GeoReport "
        "v2 says) or the query, or Authorization: Bearer <token>"
    )

    async def access_token(self, request: Request) -> str | None:
        token = await super().access_token(request)
        if token:
            return token
        api_key = await _api_key(request)
        if api_key is None:
            return None
        keys: KeyTokens = request.state.open311_keys
        return await keys.token(api_key)


async def _api_key(request: Request) -> str | None:
    """The one ``api_key`` of the query, else of a form body (where GeoReport v2 puts it on a POST)."""
    found = request.query_params.getlist("api_key")
    if not found and request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
        # The body is within the request's bound (BodySizeLimit) and read once: the route
        # parses the same bytes, strictly, after this.
        body = await request.body()
        check_form_size(body)
        found = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get("api_key", [])
    return found[0] if len(found) == 1 and found[0] else None
