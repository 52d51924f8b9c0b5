"""intake's client for dispatch: posts outbox batches to dispatch's inbox."""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import PeerUnavailable
from shared.messages import InboxReply, Outbound, inbox_body
from shared.peer import JSON_CONTENT, PeerClient


class DispatchClient(PeerClient):
    peer = "dispatch"

    async def send_inbox(self, messages: Sequence[Outbound]) -> InboxReply:
        """Deliver a batch; the reply holds one result per message, in the batch's order."""
        # orjson writes the batch and pydantic reads the reply: the stdlib encoder httpx
        # uses for ``json=`` was most of the client's cost.
        response = await self.request(
            "POST", "/internal/v1/inbox", content=inbox_body(messages), headers=JSON_CONTENT
        )
        try:
            reply = InboxReply.model_validate_json(response.content)
        except ValueError as exc:
            raise PeerUnavailable(f"dispatch answered an unreadable inbox reply: {exc}") from exc
        if len(reply.results) != len(messages):
            raise PeerUnavailable(
                f"dispatch answered {len(reply.results)} results for {len(messages)} messages"
            )
        return reply
