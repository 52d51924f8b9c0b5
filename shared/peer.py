"""The base of every inter-service client: explicit timeouts, typed errors, never raw httpx ones.

A client is built once in its service's lifespan and closed with it, and calls as its
service, with a client-credentials token from grid (:class:`shared.auth.ServiceTokens`). Network failures,
timeouts and 5xx answers become :class:`~shared.errors.PeerUnavailable`; a 4xx answer with
a problem body becomes the matching :class:`~shared.errors.WanggeError` subclass, so a
caller can ``except NotFound``. Tests pass a ``transport``: the real peer app through
``httpx.ASGITransport``, or an ``httpx.MockTransport`` for faults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from shared.auth import ServiceTokens, peer_timeout
from shared.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PeerUnavailable,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    WanggeError,
)
from shared.messages import INBOX_BODY_BYTES, InboxReply, InboxResult, InboxStatus, Outbound, inbox_bodies

JSON_CONTENT = {"Content-Type": "application/json"}
"""Headers of a request whose body is JSON the caller serialized itself (``content=``)."""

_BY_STATUS: dict[int, type[WanggeError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    422: Unprocessable,
}


class PeerClient:
    peer: str = "peer"

    def __init__(
        self,
        base_url: str,
        *,
        caller: str,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        tokens: ServiceTokens | None = None,
    ) -> None:
        self.caller = caller
        self._tokens = tokens
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=peer_timeout(timeout),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request as this service; returns 2xx and 304 answers, raises typed errors for the rest.

        A 401 means the cached service token went stale (keys rotated, token revoked): the
        request is sent once more with a fresh token.
        """
        response = await self._send(method, path, **kwargs)
        if response.status_code == 401 and self._tokens is not None:
            self._tokens.forget()
            response = await self._send(method, path, **kwargs)
        if response.status_code < 300 or response.status_code == 304:
            return response
        if response.status_code >= 500 or response.status_code == 429:
            raise PeerUnavailable(f"{self.peer} answered {response.status_code}")
        error_type = _BY_STATUS.get(response.status_code, BadRequest)
        try:
            detail = str(response.json().get("detail", response.text))
        except ValueError:
            detail = response.text
        raise error_type(f"{self.peer}: {detail}")

    async def all_items(
        self, path: str, filters: dict[str, Any] | None = None, *, max_items: int | None = None
    ) -> list[Any]:
        """Every item of one of the peer's cursor-paged lists (with ``filters``), asked 100 at a
        time; with ``max_items``, the first that many at most (the pages after them unread)."""
        items: list[Any] = []
        cursor: str | None = None
        while True:
            params = {**(filters or {}), "limit": 100, **({"cursor": cursor} if cursor else {})}
            page = (await self.request("GET", path, params=params)).json()
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor or (max_items is not None and len(items) >= max_items):
                return items[:max_items]

    async def _send(self, method: str, path: str, *, headers: Any = None, **kwargs: Any) -> httpx.Response:
        headers = dict(headers or {})
        try:
            if self._tokens is not None:
                headers["Authorization"] = f"Bearer {await self._tokens.token()}"
            return await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"{self.peer} is out of reach: {type(exc).__name__}: {exc}") from exc

    async def post_inbox(
        self, messages: Sequence[Outbound], *, max_bytes: int = INBOX_BODY_BYTES
    ) -> InboxReply:
        """Deliver a relay's batch to the peer's ``/internal/v1/inbox``, in as many requests as
        its size needs (:func:`~shared.messages.inbox_bodies`); one result per message, in order.

        A peer that refuses a request as too large (413: its ``max_body_bytes`` is below what
        this service sends) gets the same messages again in requests half as large; a single
        message it refuses is ``rejected`` (the relay keeps it as dead) instead of failing its
        batch on every retry. Any other failure raises, and the relay retries the whole batch:
        the messages an earlier request delivered come again, and the inbox answers them
        ``duplicate``.
        """
        results: list[InboxResult] = []
        start = 0
        for count, body in inbox_bodies(messages, max_bytes):
            part, start = messages[start : start + count], start + count
            try:
                results += await self._post_inbox_body(body, count)
            except PayloadTooLarge:
                if count > 1:  # fewer bytes than this body: each piece holds fewer messages
                    results += (await self.post_inbox(part, max_bytes=len(body) // 2)).results
                else:
                    detail = f"{len(body)} bytes, more than {self.peer} takes in a request (413)"
                    results.append(InboxResult(key=part[0][1], status=InboxStatus.rejected, detail=detail))
        return InboxReply(results=results)

    async def _post_inbox_body(self, body: bytes, count: int) -> list[InboxResult]:
        # orjson wrote the batch and pydantic reads the reply: the stdlib encoder httpx uses
        # for ``json=`` was most of the client's cost.
        response = await self.request("POST", "/internal/v1/inbox", content=body, headers=JSON_CONTENT)
        try:
            reply = InboxReply.model_validate_json(response.content)
        except ValueError as exc:
            raise PeerUnavailable(f"{self.peer} answered an unreadable inbox reply: {exc}") from exc
        if len(reply.results) != count:
            raise PeerUnavailable(f"{self.peer} answered {len(reply.results)} results for {count} messages")
        return reply.results
