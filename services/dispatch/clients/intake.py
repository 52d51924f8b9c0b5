"""dispatch's client of intake: delivers outbox batches to intake's inbox (``post_inbox``)."""

from __future__ import annotations

import httpx

from shared.auth import ServiceTokens
from shared.peer import PeerClient


class IntakeClient(PeerClient):
    peer = "intake"

    def __init__(
        self,
        base_url: str,
        *,
        caller: str = "dispatch",
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        tokens: ServiceTokens | None = None,
    ) -> None:
        super().__init__(base_url, caller=caller, timeout=timeout, transport=transport, tokens=tokens)
