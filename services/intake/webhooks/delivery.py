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

Before it sends, a pass asks :class:`~services.intake.webhooks.keys.KeyCheck` whether each
owner's API key is still active (grid is asked once a minute at most): a key revoked, expired
or unknown to grid has its webhook removed and its updates given up, the reason in their
``last_error``; one grid has not vouched for in too long has its updates paused (see there).

Unless ``private_addresses`` allows it, an endpoint must resolve to public addresses only: an
integration's URL could otherwise make intake call what listens on its own network. (A name
that resolves anew between the check and the connection escapes it: an egress proxy or a
firewall that only lets intake reach the internet is the sure guard, as the README says.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook as Signer

from services.intake.models import Webhook, WebhookMessage
from services.intake.webhooks import repository
from services.intake.webhooks import service as webhooks
from services.intake.webhooks.addresses import NOT_PUBLIC, resolves_to_public
from services.intake.webhooks.keys import KeyCheck, Standing, Verdict
from services.intake.webhooks.schemas import sendable_url
from services.intake.webhooks.service import REMOVED, signing_secrets
from shared.db import session_scope, utcnow
from shared.outbox import DELIVERY_SHARE_OF_LEASE, Deliver, Delivery, Outcome, Relay, backoff, claimable

log = logging.getLogger("wangge.intake.webhooks")

BATCH = 20
"""Updates claimed at a time."""
PER_ENDPOINT = 5
"""Updates of one endpoint in one claim at most: an endpoint with a backlog takes its turn."""
USER_AGENT = "wangge-intake-webhooks"
HELD_BACK = "held back behind an earlier update that failed"
OUT_OF_TIME = "not sent in this pass: the pass's time ran out"
UNREACHABLE = "the endpoint could not be reached"
NO_ANSWER = "no answer within"
GIVEN_UP = "given up: its endpoint was down for longer than the webhooks are retried"
GIVEN_UP_PAUSED = (
    "given up: paused for longer than the webhooks are retried, grid not saying whether its key is active"
)
BAD_URL = "its URL cannot be used"


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
    """The outbox relay, taking a few of each endpoint's updates at a time: none of an endpoint
    that is backing off, that has an update not due yet, or that another claim (another intake
    process) holds updates of, and
    at most :data:`PER_ENDPOINT` of each other's, oldest first. So an endpoint's updates are
    in one claim at a time, in order, and one with a backlog does not fill every batch."""

    def due(self, now: datetime) -> Select[Any]:
        table = WebhookMessage.__table__
        pending = (table.c.sent_at.is_(None), table.c.dead_at.is_(None))
        held = select(table.c.owner_id).where(*pending, table.c.lease_until >= now)
        # An update not due yet (a pass that failed as a whole gave each its own jittered
        # backoff) holds its endpoint's newer ones: they would overtake it.
        waiting = select(table.c.owner_id).where(*pending, table.c.available_at > now)
        backing_off = select(Webhook.owner_id).where(Webhook.blocked_until > now)
        place = func.row_number().over(partition_by=table.c.owner_id, order_by=table.c.id)
        ranked = (
            select(table.c.id, place.label("place"))
            .where(
                *claimable(table, now),
                table.c.owner_id.not_in(held),
                table.c.owner_id.not_in(waiting),
                table.c.owner_id.not_in(backing_off),
            )
            .subquery()
        )
        # No SKIP LOCKED (not allowed beside a window function): the claim's UPDATE checks each
        # row is claimable again, so one that waited for another's claim takes nothing of it.
        return (
            select(ranked.c.id)
            .where(ranked.c.place <= PER_ENDPOINT)
            .order_by(ranked.c.id)
            .limit(self.batch_size)
        )


def make_deliver(
    session_maker: async_sessionmaker[AsyncSession],
    endpoints: Endpoints,
    *,
    pass_seconds: float,
    keys: KeyCheck,
) -> Deliver:
    """``pass_seconds``: how long a pass may go on starting POSTs (within the relay's budget);
    ``keys``: whether the owners' keys are active."""

    async def deliver(messages: Sequence[Any]) -> dict[int, Delivery]:
        deadline = asyncio.get_running_loop().time() + pass_seconds
        in_order = sorted(messages, key=lambda m: (m.payload["to"], m.id))
        runs = {owner: list(theirs) for owner, theirs in groupby(in_order, key=lambda m: m.payload["to"])}
        # grid's answer takes what the pass can spare: an endpoint's first POST still fits.
        standings = await keys.standings(list(runs), within=max(pass_seconds - endpoints.timeout, 0.5))
        outcomes: dict[int, Delivery] = {}
        for owner, standing in standings.items():
            if standing.verdict is not Verdict.deliver:
                outcomes.update(_held(runs.pop(owner), standing, endpoints, keys))
        gone = {owner: s.reason or "" for owner, s in standings.items() if s.verdict is Verdict.remove}
        if gone:  # before any POST: if this fails, the batch is tried again and nothing went twice
            async with session_scope(session_maker) as session:
                for owner, reason in gone.items():
                    await webhooks.remove_for_key(session, owner_id=owner, reason=reason)
        async with session_scope(session_maker) as session:
            hooks = {
                w.owner_id: (w.url, signing_secrets(w))
                for w in await repository.of_owners(session, list(runs))
            }
        sent = await asyncio.gather(
            *(_send_in_order(endpoints, hooks.get(owner), run, deadline) for owner, run in runs.items())
        )
        tried: dict[str, tuple[str, Failure | None]] = {}
        for owner, (theirs, failure) in zip(runs, sent, strict=True):
            outcomes.update(theirs)
            if owner in hooks:
                tried[owner] = (hooks[owner][0], failure)
        try:  # the outcomes stand whatever happens here: the POSTs were made
            await _back_off(session_maker, tried, endpoints)
        except Exception:
            log.exception("recording the webhooks' backoff failed")
        return outcomes

    return deliver


def _held(
    messages: list[Any], standing: Standing, endpoints: Endpoints, keys: KeyCheck
) -> dict[int, Delivery]:
    """The outcomes of an owner's updates not sent for its key: dead with the reason when the
    key is gone; when grid could not say, tried again once grid may be asked again, and dead
    only once older than the webhooks are retried."""
    if standing.verdict is Verdict.remove:
        return {m.id: Delivery(Outcome.dead, standing.reason) for m in messages}
    now, pause = utcnow(), keys.fresh_for.total_seconds()
    return {
        m.id: Delivery(Outcome.dead, GIVEN_UP_PAUSED)
        if now - datetime.fromisoformat(m.payload["at"]) > endpoints.give_up
        else Delivery(Outcome.retry, standing.reason, delay=pause)
        for m in messages
    }


@dataclass(frozen=True)
class Failure:
    """Why an endpoint's pass stopped: ``down`` when it could not be reached or did not answer
    (not an answer refusing the update), and whether the update tried was past giving up."""

    down: bool
    late: bool


async def _send_in_order(
    endpoints: Endpoints, hook: tuple[str, tuple[str, ...]] | None, messages: list[Any], deadline: float
) -> tuple[dict[int, Delivery], Failure | None]:
    """One endpoint's updates, one at a time in the order written, up to its first failure;
    the outcomes, and the failure if one stopped it."""
    if hook is None:
        return {m.id: Delivery(Outcome.dead, REMOVED) for m in messages}, None
    url, secrets = hook
    signers = [Signer(secret) for secret in secrets]
    loop = asyncio.get_running_loop()
    outcomes: dict[int, Delivery] = {}
    for index, message in enumerate(messages):
        # A POST gets its timeout, or what is left of the pass (never less for an endpoint's
        # first: the timeout fits a pass). One cut short by the pass is not the endpoint's
        # failure: it goes again next pass, with the rest.
        within = endpoints.timeout if index == 0 else deadline - loop.time()
        body = message.payload["body"]
        error = OUT_OF_TIME if within <= 0 else await _post(endpoints, signers, url, body, within)
        if error is OUT_OF_TIME:
            outcomes.update({m.id: Delivery(Outcome.retry, OUT_OF_TIME, delay=0) for m in messages[index:]})
            return outcomes, None
        if error is None:
            outcomes[message.id] = Delivery(Outcome.sent)
            continue
        log.warning("webhook of %s: update %s not delivered: %s", message.payload["to"], message.key, error)
        late = utcnow() - datetime.fromisoformat(message.payload["at"]) > endpoints.give_up
        outcomes[message.id] = Delivery(
            Outcome.dead if late else Outcome.retry, error, delay=None if late else 0
        )
        # The rest wait untried, with no backoff of their own: the endpoint's (``blocked_until``)
        # holds them all, in order.
        outcomes.update({m.id: Delivery(Outcome.retry, HELD_BACK, delay=0) for m in messages[index + 1 :]})
        down = error == UNREACHABLE or error.startswith((NO_ANSWER, BAD_URL))
        return outcomes, Failure(down=down, late=late)
    return outcomes, None


async def _post(
    endpoints: Endpoints, signers: list[Signer], url: str, body: dict[str, Any], within: float
) -> str | None:
    """POST one update; None when the endpoint took it, else why not, in words that tell the
    integration what to fix and no more (not what else listens where it pointed).
    :data:`OUT_OF_TIME` when ``within`` (the pass's time left), shorter than the timeout, ran out.
    Resolving the name for the address check is inside the same time limit."""
    content = orjson.dumps(body)
    sent_at = utcnow()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": body["id"],
        "webhook-timestamp": str(int(sent_at.timestamp())),
        # space-separated signatures, one per secret (Standard Webhooks): a verifier takes any
        "webhook-signature": " ".join(signer.sign(body["id"], sent_at, content) for signer in signers),
    }
    try:
        async with asyncio.timeout(min(endpoints.timeout, within)):
            sendable_url(url)
            if not endpoints.private_addresses and not await resolves_to_public(url):
                return NOT_PUBLIC
            response = await endpoints.client.post(url, content=content, headers=headers)
    except TimeoutError:
        return OUT_OF_TIME if within < endpoints.timeout else f"{NO_ANSWER} {endpoints.timeout:g} s"
    except httpx.HTTPError as exc:
        log.info("webhook to %s: %s: %s", urlsplit(url).hostname, type(exc).__name__, exc)
        return UNREACHABLE
    except OSError as exc:  # the check's look-up of the name failed (TimeoutError is taken above)
        log.info("webhook to %s: the name did not resolve: %s", urlsplit(url).hostname, exc)
        return UNREACHABLE
    except (ValueError, httpx.InvalidURL) as exc:  # a port out of range, a host no resolver takes
        return f"{BAD_URL}: {exc}"
    if response.is_success:
        return None
    return f"the endpoint answered {response.status_code}"


async def _back_off(
    session_maker: async_sessionmaker[AsyncSession],
    tried: dict[str, tuple[str, Failure | None]],
    endpoints: Endpoints,
) -> None:
    """Record each endpoint's pass: a failure blocks it for its backoff, a success clears it
    (not where the URL changed meanwhile: a new one is tried at once). An endpoint down past
    giving up gives up at once every update it holds older than that, not one per backoff."""
    if not tried:
        return
    now = utcnow()
    async with session_scope(session_maker) as session:
        for webhook in await repository.of_owners(session, list(tried)):
            url, failure = tried[webhook.owner_id]
            if webhook.url != url:
                continue
            if failure is None:
                if webhook.failures:
                    webhook.failures, webhook.blocked_until = 0, None
                continue
            webhook.failures += 1
            delay = backoff(webhook.failures, cap=endpoints.max_backoff)
            webhook.blocked_until = now + timedelta(seconds=delay)
            if failure.down and failure.late:
                await repository.give_up(
                    session,
                    webhook.owner_id,
                    now=now,
                    reason=GIVEN_UP,
                    written_before=now - endpoints.give_up,
                )


def build_webhook_relay(
    session_maker: async_sessionmaker[AsyncSession], endpoints: Endpoints, *, keys: KeyCheck, **options: Any
) -> Relay:
    """The webhooks' relay; ``options`` are :class:`Relay`'s (``RelaySettings.relay_options()``),
    but its batches are small and one at a time (an endpoint's updates keep their order)."""
    options = {**options, "batch_size": BATCH, "concurrency": 1}
    # A pass starts POSTs until a second before the relay's budget runs out, and a POST never
    # takes longer than a pass: an endpoint's first POST always gets its whole timeout.
    budget = options.get("lease_seconds", 30.0) * DELIVERY_SHARE_OF_LEASE
    pass_seconds = max(budget - 1.0, 0.1)
    endpoints = replace(endpoints, timeout=min(endpoints.timeout, pass_seconds))
    deliver = make_deliver(session_maker, endpoints, pass_seconds=pass_seconds, keys=keys)
    return WebhookRelay(session_maker, WebhookMessage, deliver, name="intake-webhooks", **options)
