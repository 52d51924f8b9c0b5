"""Webhooks: an integration names a URL, and each update of its reports is POSTed there.

A chat bot files reports for a merchants' group and answers in the group when something
happens. Polling each report for that costs a request per open report and poll; with a
webhook, intake tells the bot instead. One webhook per integration (the caller of the routes);
the updates are those its reports' ``updates`` show, notes as the reporter reads them.

An update to deliver is written in the transaction that stores it (an outbox of its own,
``webhook_outbox``), and ``delivery.py`` sends it signed as the Standard Webhooks spec says.
"""

from __future__ import annotations

import base64
import logging
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import Webhook, WebhookMessage
from services.intake.webhooks import repository
from services.intake.webhooks.addresses import NOT_PUBLIC, names_a_private_address
from services.intake.webhooks.schemas import (
    ReportUpdated,
    WebhookListed,
    WebhookPage,
    WebhookPut,
    WebhookRead,
)
from shared.actors import Actor
from shared.db import utcnow
from shared.errors import NotFound, ServiceUnavailable, Unprocessable
from shared.outbox import mark_enqueued
from shared.schemas import decode_cursor, encode_cursor

log = logging.getLogger("wangge.intake.webhooks")

INTEGRATION_PREFIX = "integration:"


def may_have_webhook(reporter_id: str) -> bool:
    """Only integrations have webhooks: a report whose reporter id has another form (a grid
    worker's) needs no look-up, on the status inbox's hot path."""
    return reporter_id.startswith(INTEGRATION_PREFIX)


REPORT_UPDATED = "report.updated"
REMOVED = "the webhook was removed"


SECRET_OVERLAP = timedelta(hours=24)
"""How long after a rotation deliveries also carry a signature with the secret it replaced."""


def signing_secrets(webhook: Webhook) -> tuple[str, ...]:
    """The secrets a delivery is signed with now: the current one, and the one before it
    while the rotation's overlap lasts."""
    until = webhook.previous_secret_until
    if webhook.previous_secret and until is not None and utcnow() < until:
        return webhook.secret, webhook.previous_secret
    return (webhook.secret,)


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def set_webhook(
    session: AsyncSession, *, owner: Actor, body: WebhookPut, private_addresses: bool
) -> tuple[WebhookRead, bool]:
    """Create the caller's webhook (with a new secret, answered this once) or change its URL;
    whether it was created. ``private_addresses``: whether a webhook may reach one."""
    if not private_addresses and names_a_private_address(body.url):
        raise Unprocessable(
            f"{body.url}: {NOT_PUBLIC}; intake posts only to public addresses unless the office "
            "sets WANGGE_INTAKE_WEBHOOK_PRIVATE_ADDRESSES=true (a bot on its own network)"
        )
    now = utcnow()
    row = {
        "owner_id": owner.id,
        "url": body.url,
        "secret": new_secret(),
        "created_at": now,
        "updated_at": now,
        "failures": 0,
    }
    for _ in range(3):  # an admin's DELETE may come between the insert and the lock
        created = await repository.add_if_absent(session, row)
        webhook = await repository.get(session, owner.id, for_update=True)
        if webhook is not None:
            break
    else:
        raise ServiceUnavailable("the webhook changed meanwhile: try again")
    if created:
        return await _read(session, webhook, with_secret=True), True
    webhook.url, webhook.updated_at = body.url, now
    webhook.failures, webhook.blocked_until = 0, None  # a new URL is tried at once
    return await _read(session, webhook), False


async def read_webhook(session: AsyncSession, *, owner: Actor) -> WebhookRead:
    return await _read(session, await _own(session, owner))


async def rotate_secret(session: AsyncSession, *, owner: Actor) -> WebhookRead:
    """A new secret, answered this once; deliveries are signed with it from now on, retries
    too, and for :data:`SECRET_OVERLAP` with the one it replaces as well (a second signature in
    the header, as Standard Webhooks allows), so a bot that checks with either takes them."""
    webhook = await _own(session, owner, for_update=True)
    now = utcnow()
    webhook.previous_secret, webhook.previous_secret_until = webhook.secret, now + SECRET_OVERLAP
    webhook.secret, webhook.updated_at = new_secret(), now
    return await _read(session, webhook, with_secret=True)


async def remove_webhook(session: AsyncSession, *, owner: Actor) -> None:
    """Remove the caller's webhook; its undelivered updates are given up (kept, as dead)."""
    await _remove(session, await _own(session, owner, for_update=True))


class _After(BaseModel):
    o: str


async def list_webhooks(session: AsyncSession, *, limit: int, cursor: str | None) -> WebhookPage:
    """Every integration's webhook and how its deliveries stand (no secret): an admin's view."""
    after = decode_cursor(cursor, _After).o if cursor else None
    rows = await repository.page(session, after=after, limit=limit + 1)
    items = [
        WebhookListed(owner_id=w.owner_id, **(await _read(session, w)).model_dump()) for w in rows[:limit]
    ]
    more = len(rows) > limit
    return WebhookPage(
        items=items, next_cursor=encode_cursor(_After(o=rows[limit - 1].owner_id)) if more else None
    )


async def remove_webhook_of(session: AsyncSession, *, owner_id: str) -> None:
    """An admin removes an integration's webhook (its key revoked, its URL wrong): its
    undelivered updates are given up. The integration may set one again while its key lasts."""
    webhook = await repository.get(session, owner_id, for_update=True)
    if webhook is None:
        raise NotFound(f"{owner_id} has no webhook")
    await _remove(session, webhook)


async def remove_for_key(session: AsyncSession, *, owner_id: str, reason: str) -> None:
    """Remove the webhook of an integration whose key grid says is revoked, expired or unknown,
    and give up its undelivered updates with ``reason``; logged, for nobody asked for it. Its
    updates written meanwhile (a webhook set again with a token of the key's last minutes)
    die the same way on their pass."""
    webhook = await repository.get(session, owner_id, for_update=True)
    await repository.give_up(session, owner_id, now=utcnow(), reason=reason)
    if webhook is not None:
        await session.delete(webhook)
        log.warning("webhook of %s (%s) removed: %s", owner_id, webhook.url, reason)


async def _remove(session: AsyncSession, webhook: Webhook) -> None:
    """Delete the webhook and give up its undelivered updates (kept, as dead). Those a pass is
    sending stay with it: it marks them sent, or they die as removed on the next pass."""
    await repository.give_up(session, webhook.owner_id, now=utcnow(), reason=REMOVED)
    await session.delete(webhook)


async def _own(session: AsyncSession, owner: Actor, *, for_update: bool = False) -> Webhook:
    webhook = await repository.get(session, owner.id, for_update=for_update)
    if webhook is None:
        raise NotFound("no webhook is set: PUT /v1/webhook sets one")
    return webhook


async def _read(session: AsyncSession, webhook: Webhook, *, with_secret: bool = False) -> WebhookRead:
    pending, dead, last_error = await repository.delivery_state(session, webhook.owner_id, webhook.created_at)
    return WebhookRead(
        previous_secret_until=webhook.previous_secret_until if signing_secrets(webhook)[1:] else None,
        url=webhook.url,
        created_at=webhook.created_at,
        updated_at=webhook.updated_at,
        pending=pending,
        dead=dead,
        last_error=last_error,
        secret=webhook.secret if with_secret else None,
    )


class CaseView(Protocol):
    """What a status message says of the case (``inbox.service.StatusChange``)."""

    case_number: str
    department_code: str | None
    department_name: str | None
    deadline_at: datetime | None


@dataclass(frozen=True)
class Heard:
    """An update a report heard and stored: its reporter, the stored event, the case's view."""

    reporter_id: str
    event: Mapping[str, Any]
    case: CaseView


async def enqueue_updates(session: AsyncSession, heard: Sequence[Heard]) -> None:
    """Write the updates heard by reports whose reporters have a webhook (``may_have_webhook``
    picked them), for delivery after commit, in the order dispatch made them (then by report)."""
    if not heard:
        return
    hooked = {
        webhook.owner_id for webhook in await repository.of_owners(session, {h.reporter_id for h in heard})
    }
    now = utcnow()
    in_order = sorted(heard, key=lambda h: (h.event["event_id"], str(h.event["report_id"])))
    rows = [_message(h, now) for h in in_order if h.reporter_id in hooked]
    if rows:
        await repository.add_messages(session, rows)
        mark_enqueued(session, WebhookMessage)


def _message(heard: Heard, now: datetime) -> dict[str, Any]:
    event, case = heard.event, heard.case
    report_id: uuid.UUID = event["report_id"]
    body = ReportUpdated(
        id=f"{report_id}:{event['event_id']}",
        report={
            "id": report_id,
            "status": event["status"],
            "case_id": event["case_id"],
            "case_number": case.case_number,
            "department_code": case.department_code,
            "department_name": case.department_name,
            "deadline_at": case.deadline_at,
        },
        event={
            "event_id": event["event_id"],
            "action": event["action"],
            "status": event["status"],
            "note": event["note"],
            "occurred_at": event["occurred_at"],
        },
    )
    return {
        "topic": REPORT_UPDATED,
        "key": body.id,
        "owner_id": heard.reporter_id,
        "payload": {"to": heard.reporter_id, "at": now.isoformat(), "body": body.model_dump(mode="json")},
        "attempts": 0,
        "created_at": now,
        "available_at": now,
    }
