"""intake's client for dispatch: posts outbox batches to dispatch's inbox."""

from __future__ import annotations

from shared.errors import PeerUnavailable
from shared.messages import InboxBatch, InboxReply
from shared.peer import JSON_CONTENT, PeerClient


class DispatchClient(PeerClient):
    peer = "dispatch"

    async def send_inbox(self, batch: InboxBatch) -> InboxReply:
        """Deliver a batch; the reply holds one result per message, in the batch's order."""
        # pydantic writes and reads the JSON itself: a batch is up to a hundred reports, and
        # the stdlib encoder httpx uses for ``json=`` was most of the client's cost.
        response = await self.request(
            "POST", "/internal/v1/inbox", content=batch.model_dump_json(), headers=JSON_CONTENT
        )
        try:
            reply = InboxReply.model_validate_json(response.content)
        except ValueError as exc:
            raise PeerUnavailable(f"dispatch answered an unreadable inbox reply: {exc}") from exc
        if len(reply.results) != len(batch.messages):
            raise PeerUnavailable(
                f"dispatch answered {len(reply.results)} results for {len(batch.messages)} messages"
            )
        return reply
