"""intake's client for dispatch: posts outbox batches to dispatch's inbox."""

from __future__ import annotations

from shared.errors import PeerUnavailable
from shared.messages import InboxBatch, InboxReply
from shared.peer import PeerClient


class DispatchClient(PeerClient):
    peer = "dispatch"

    async def send_inbox(self, batch: InboxBatch) -> InboxReply:
        """Deliver a batch; the reply holds one result per message, in the batch's order."""
        response = await self.request("POST", "/internal/v1/inbox", json=batch.model_dump(mode="json"))
        try:
            reply = InboxReply.model_validate(response.json())
        except ValueError as exc:
            raise PeerUnavailable(f"dispatch answered an unreadable inbox reply: {exc}") from exc
        if len(reply.results) != len(batch.messages):
            raise PeerUnavailable(
                f"dispatch answered {len(reply.results)} results for {len(batch.messages)} messages"
            )
        return reply
