"""Delivering dispatch's outbox (``case.status_changed``) to intake's inbox."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.clients.intake import IntakeClient
from services.dispatch.models import OutboxMessage
from services.dispatch.settings import DispatchSettings
from shared.messages import InboxStatus
from shared.outbox import Deliver, Delivery, Outcome, Relay

_OUTCOMES = {
    InboxStatus.accepted: Outcome.sent,
    InboxStatus.duplicate: Outcome.sent,
    InboxStatus.rejected: Outcome.dead,
}


def deliver_to(intake: IntakeClient) -> Deliver:
    """A delivery function for the relay; PeerUnavailable propagates and the relay retries the batch."""

    async def deliver(messages: Sequence[OutboxMessage]) -> dict[int, Delivery]:
        reply = await intake.post_inbox([(m.topic, m.key, m.payload) for m in messages])
        return {
            m.id: Delivery(_OUTCOMES[result.status], result.detail)
            for m, result in zip(messages, reply.results, strict=True)
        }

    return deliver


def build_relay(
    settings: DispatchSettings, session_maker: async_sessionmaker[AsyncSession], intake: IntakeClient
) -> Relay:
    return Relay(
        session_maker,
        OutboxMessage,
        deliver_to(intake),
        name="dispatch-to-intake",
        **settings.relay_options(),
    )
