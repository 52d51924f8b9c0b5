"""dispatch's client of intake: delivers outbox batches to intake's inbox."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from shared.auth import ServiceTokens
from shared.messages import InboxReply, Outbound, inbox_body
from shared.peer import JSON_CONTENT, PeerClient


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

    async def deliver(self, messages: Sequence[Outbound]) -> InboxReply:
        """Post one batch; raises PeerUnavailable when intake is down or answers 5xx."""
        # orjson writes the batch and pydantic reads the reply: the stdlib encoder httpx
        # uses for ``json=`` was most of the client's cost.
        response = await self.request(
            "POST", "/internal/v1/inbox", content=inbox_body(messages), headers=JSON_CONTENT
        )
        return InboxReply.model_validate_json(response.content)
