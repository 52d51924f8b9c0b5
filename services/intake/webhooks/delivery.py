"""Delivering the webhooks' outbox: each update POSTed to its integration's URL, signed.

The signature is the Standard Webhooks one (``standardwebhooks``): headers ``webhook-id`` (the
update's id, the same on a retry, so a receiver drops a second copy), ``webhook-timestamp``
and ``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body`` under
the secret). Any 2xx is delivered; anything else, a redirect included (none is followed),
and a network failure are retried with the relay's backoff until ``give_up`` has passed since
the update was written, and then it is dead. One endpoint's updates go one at a time in the
order written, and the first that fails holds back the rest of its batch, so an endpoint that
is down costs one timeout a batch. Endpoints are sent to side by side. A retried update may
still arrive after a newer one: a receiver orders by ``event.event_id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook as Signer

from services.intake.models import WebhookMessage
from services.intake.webhooks import repository
from services.intake.webhooks.service import REMOVED
from shared.db import session_scope, utcnow
from shared.outbox import Deliver, Delivery, Outcome, Relay

log = logging.getLogger("wangge.intake.webhooks")

BATCH = 20
"""Updates claimed at a time: one endpoint's go one by one, and a batch must finish inside the lease."""
USER_AGENT = "wangge-intake-webhooks"


def make_deliver(
    session_maker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, *, give_up: timedelta
) -> Deliver:
    async def deliver(messages: Sequence[Any]) -> dict[int, Delivery]:
        in_order = sorted(messages, key=lambda m: (m.payload["to"], m.id))
        owners = {m.payload["to"] for m in in_order}
        async with session_scope(session_maker) as session:
            hooks = {w.owner_id: (w.url, w.secret) for w in await repository.of_owners(session, owners)}
        sends = [
            _send_in_order(client, hooks.get(owner), list(theirs), give_up)
            for owner, theirs in groupby(in_order, key=lambda m: m.payload["to"])
        ]
        outcomes: dict[int, Delivery] = {}
        for result in await asyncio.gather(*sends):
            outcomes.update(result)
        return outcomes

    return deliver


async def _send_in_order(
    client: httpx.AsyncClient, hook: tuple[str, str] | None, messages: list[Any], give_up: timedelta
) -> dict[int, Delivery]:
    if hook is None:
        return {m.id: Delivery(Outcome.dead, REMOVED) for m in messages}
    url, secret = hook
    signer = Signer(secret)
    outcomes: dict[int, Delivery] = {}
    for index, message in enumerate(messages):
        error = await _post(client, signer, url, message.payload["body"])
        if error is None:
            outcomes[message.id] = Delivery(Outcome.sent)
            continue
        written = datetime.fromisoformat(message.payload["at"])
        late = utcnow() - written > give_up
        outcomes[message.id] = Delivery(Outcome.dead if late else Outcome.retry, error)
        if late:
            log.warning("webhook %s: update %s given up after %s: %s", url, message.key, give_up, error)
        for held in messages[index + 1 :]:
            outcomes[held.id] = Delivery(Outcome.retry, "held back behind an earlier update that failed")
        break
    return outcomes


async def _post(client: httpx.AsyncClient, signer: Signer, url: str, body: dict[str, Any]) -> str | None:
    """POST one update; None when the endpoint took it, else why not."""
    content = orjson.dumps(body)
    sent_at = utcnow()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": body["id"],
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signer.sign(body["id"], sent_at, content),
    }
    try:
        response = await client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if response.is_success:
        return None
    return f"the endpoint answered {response.status_code}"


def build_webhook_relay(
    session_maker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    *,
    give_up: timedelta,
    **options: Any,
) -> Relay:
    """The webhooks' relay; ``options`` are :class:`Relay`'s (``RelaySettings.relay_options()``),
    but its batches are small and one at a time (an endpoint's updates keep their order)."""
    deliver = make_deliver(session_maker, client, give_up=give_up)
    options = {**options, "batch_size": BATCH, "concurrency": 1}
    return Relay(session_maker, WebhookMessage, deliver, name="intake-webhooks", **options)
