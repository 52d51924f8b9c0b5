"""intake's client for dispatch: posts outbox batches to dispatch's inbox (``post_inbox``)."""

from __future__ import annotations

from shared.peer import PeerClient


class DispatchClient(PeerClient):
    peer = "dispatch"
