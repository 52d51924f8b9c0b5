"""Delivering the webhooks' outbox: each update POSTed to its integration's URL, signed.

The signature is the Standard Webhooks one (``standardwebhooks``): headers ``webhook-id`` (the
update's id, the same on a retry, so a receiver drops a second copy), ``webhook-timestamp``
and ``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body`` under
the secret). Any 2xx is delivered; anything else, a redirect included (none is followed), no
answer within the timeout, and a failure to connect are a failure.

An endpoint backs off as a whole, not update by update: after a failure no update of its
webhook is claimed before ``blocked_until`` (a backoff growing with the failures in a row), and
then its updates come due together and go in the order written. So one endpoint's updates
never overtake each other, and one that is down costs a timeout per backoff, not its share of
every batch: the others' updates go on. An update still failing ``give_up`` after it was written
is dead. A pass gives each POST its timeout or the time left before its lease runs out, whichever
is shorter, and one cut short by the pass goes again next pass with the rest of its endpoint's:
no update is sent again for the others taking too long.

Unless ``private_addresses`` allows it, an endpoint must resolve to public addresses only: an
integration's URL could otherwise make intake call what listens on its own network. (A name
that resolves anew between the check and the connection escapes it: an egress proxy or a
firewall that only lets intake reach the internet is the sure guard, as the README says.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook as Signer

from services.intake.models import Webhook, WebhookMessage
from services.intake.webhooks import repository
from services.intake.webhooks.service import REMOVED
from shared.db import session_scope, utcnow
from shared.outbox import DELIVERY_SHARE_OF_LEASE, Deliver, Delivery, Outcome, Relay, backoff

log = logging.getLogger("wangge.intake.webhooks")

BATCH = 20
"""Updates claimed at a time."""
USER_AGENT = "wangge-intake-webhooks"
HELD_BACK = "held back behind an earlier update that failed"
OUT_OF_TIME = "not sent in this pass: the pass's time ran out"


@dataclass(frozen=True)
class Endpoints:
    """How deliveries reach the integrations' endpoints."""

    client: httpx.AsyncClient
    timeout: float
    """seconds one delivery may take, all told"""
    give_up: timedelta
    private_addresses: bool
    max_backoff: float


class WebhookRelay(Relay):
    """The outbox relay, claiming no update of an endpoint that is backing off."""

    def also_due(self, now: datetime) -> list[ColumnElement[bool]]:
        backing_off = select(Webhook.owner_id).where(Webhook.blocked_until > now)
        return [WebhookMessage.owner_id.not_in(backing_off)]


def make_deliver(
    session_maker: async_sessionmaker[AsyncSession], endpoints: Endpoints, *, pass_seconds: float
) -> Deliver:
    """``pass_seconds``: how long a pass may go on starting POSTs (within the relay's budget)."""

    async def deliver(messages: Sequence[Any]) -> dict[int, Delivery]:
        deadline = asyncio.get_running_loop().time() + pass_seconds
        in_order = sorted(messages, key=lambda m: (m.payload["to"], m.id))
        owners = {m.payload["to"] for m in in_order}
        async with session_scope(session_maker) as session:
            hooks = {w.owner_id: (w.url, w.secret) for w in await repository.of_owners(session, owners)}
        runs = {owner: list(theirs) for owner, theirs in groupby(in_order, key=lambda m: m.payload["to"])}
        sent = await asyncio.gather(
            *(_send_in_order(endpoints, hooks.get(owner), run, deadline) for owner, run in runs.items())
        )
        outcomes: dict[int, Delivery] = {}
        failed: dict[str, bool] = {}
        for owner, (theirs, failure) in zip(runs, sent, strict=True):
            outcomes.update(theirs)
            if owner in hooks:
                failed[owner] = failure
        await _back_off(session_maker, failed, endpoints.max_backoff)
        return outcomes

    return deliver


async def _send_in_order(
    endpoints: Endpoints, hook: tuple[str, str] | None, messages: list[Any], deadline: float
) -> tuple[dict[int, Delivery], bool]:
    """One endpoint's updates, one at a time in the order written, up to its first failure;
    the outcomes, and whether one failed."""
    if hook is None:
        return {m.id: Delivery(Outcome.dead, REMOVED) for m in messages}, False
    url, secret = hook
    signer = Signer(secret)
    loop = asyncio.get_running_loop()
    outcomes: dict[int, Delivery] = {}
    for index, message in enumerate(messages):
        # A POST gets its timeout, or what is left of the pass: cut short by the pass, it is
        # not the endpoint's failure, and goes again next pass.
        left = deadline - loop.time()
        if left <= 0:
            outcomes.update({m.id: Delivery(Outcome.retry, OUT_OF_TIME, delay=0) for m in messages[index:]})
            return outcomes, False
        error = await _post(endpoints, signer, url, message.payload["body"], within=left)
        if error is OUT_OF_TIME:
            outcomes.update({m.id: Delivery(Outcome.retry, OUT_OF_TIME, delay=0) for m in messages[index:]})
            return outcomes, False
        if error is None:
            outcomes[message.id] = Delivery(Outcome.sent)
            continue
        log.warning("webhook of %s: update %s not delivered: %s", message.payload["to"], message.key, error)
        for later in messages[index:]:
            why = error if later is message else HELD_BACK
            late = utcnow() - datetime.fromisoformat(later.payload["at"]) > endpoints.give_up
            # No backoff of its own: the endpoint's (``blocked_until``) holds them all, in order.
            outcomes[later.id] = (
                Delivery(Outcome.dead, why) if late else Delivery(Outcome.retry, why, delay=0)
            )
        return outcomes, True
    return outcomes, False


async def _post(
    endpoints: Endpoints, signer: Signer, url: str, body: dict[str, Any], *, within: float
) -> str | None:
    """POST one update; None when the endpoint took it, else why not, in words that tell the
    integration what to fix and no more (not what else listens where it pointed).
    :data:`OUT_OF_TIME` when ``within`` (the pass's time left), shorter than the timeout, ran out."""
    if not endpoints.private_addresses and not await _public(url):
        return "its address is not a public one (loopback, private network, link-local…)"
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
        async with asyncio.timeout(min(endpoints.timeout, within)):
            response = await endpoints.client.post(url, content=content, headers=headers)
    except TimeoutError:
        return OUT_OF_TIME if within < endpoints.timeout else f"no answer within {endpoints.timeout:g} s"
    except httpx.HTTPError as exc:
        log.info("webhook to %s: %s: %s", urlsplit(url).hostname, type(exc).__name__, exc)
        return "the endpoint could not be reached"
    if response.is_success:
        return None
    return f"the endpoint answered {response.status_code}"


async def _public(url: str) -> bool:
    """Whether every address ``url``'s host resolves to is a public (global) one."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        pass  # a name
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443)
    except OSError:
        return True  # it cannot be reached either: the POST says so
    return all(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_global for info in found)


async def _back_off(
    session_maker: async_sessionmaker[AsyncSession], failed: dict[str, bool], cap: float
) -> None:
    """Record each endpoint's pass: a failure blocks it for its backoff, a success clears it."""
    if not failed:
        return
    now = utcnow()
    async with session_scope(session_maker) as session:
        for webhook in await repository.of_owners(session, list(failed)):
            if failed[webhook.owner_id]:
                webhook.failures += 1
                webhook.blocked_until = now + timedelta(seconds=backoff(webhook.failures, cap=cap))
            elif webhook.failures:
                webhook.failures, webhook.blocked_until = 0, None


def build_webhook_relay(
    session_maker: async_sessionmaker[AsyncSession], endpoints: Endpoints, **options: Any
) -> Relay:
    """The webhooks' relay; ``options`` are :class:`Relay`'s (``RelaySettings.relay_options()``),
    but its batches are small and one at a time (an endpoint's updates keep their order)."""
    options = {**options, "batch_size": BATCH, "concurrency": 1}
    # POSTs start only while one more fits before the relay's budget runs out (a second of margin).
    budget = options.get("lease_seconds", 30.0) * DELIVERY_SHARE_OF_LEASE
    deliver = make_deliver(session_maker, endpoints, pass_seconds=max(budget - 1.0, 0.0))
    return WebhookRelay(session_maker, WebhookMessage, deliver, name="intake-webhooks", **options)
