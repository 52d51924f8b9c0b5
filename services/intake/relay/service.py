"""Delivering intake's outbox to dispatch.

A ``report.received`` message is never sent unlocated: when its report has no cell yet the
relay locates it first (refreshing the territory from grid if none is loaded), stores the
cell on the report, and sends the payload with it. While there is still no territory the
message waits (outcome retry, with backoff). A report located when it came in needs no
look-up: its payload carries its cell. The messages ready go to dispatch's inbox in one
batch: accepted or duplicate → sent, rejected → dead; dispatch out of reach → the batch retries.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.clients.dispatch import DispatchClient
from services.intake.models import OutboxMessage, Report
from services.intake.territory.service import Territory
from shared.db import one_of, session_scope, utcnow
from shared.errors import WanggeError
from shared.messages import REPORT_RECEIVED, InboxStatus
from shared.outbox import Deliver, Delivery, Outcome, Relay

log = logging.getLogger("wangge.intake.relay")

NOT_LOCATED = "waiting for the territory: the report is not located yet"


def make_deliver(
    session_maker: async_sessionmaker[AsyncSession], territory: Territory, dispatch: DispatchClient
) -> Deliver:
    async def deliver(messages: Sequence[Any]) -> dict[int, Delivery]:
        outcomes: dict[int, Delivery] = {}
        reports = [m for m in messages if m.topic == REPORT_RECEIVED]
        for message in messages:
            if message.topic != REPORT_RECEIVED:
                outcomes[message.id] = Delivery(Outcome.dead, f"intake sends no {message.topic!r}")
        # A report located when it came in carries its cell already; only the others are looked up.
        ready = [(m, m.payload) for m in reports if m.payload.get("grid_cell") is not None]
        unplaced = [m for m in reports if m.payload.get("grid_cell") is None]
        cells = await _locate(session_maker, territory, [uuid.UUID(m.key) for m in unplaced])
        for message in unplaced:
            if message.key not in cells:
                outcomes[message.id] = Delivery(Outcome.dead, f"no report {message.key} in intake")
                continue
            cell = cells[message.key]
            if cell is None:
                outcomes[message.id] = Delivery(Outcome.retry, NOT_LOCATED)
            else:
                ready.append((message, {**message.payload, "grid_cell": cell[0], "community": cell[1]}))
        if not ready:
            return outcomes
        ready.sort(key=lambda item: item[0].id)  # in the order taken: dispatch places them in order
        try:
            reply = await dispatch.post_inbox([(m.topic, m.key, payload) for m, payload in ready])
        except WanggeError as exc:
            log.warning(
                "dispatch did not take %d %s: %s",
                len(ready),
                "message" if len(ready) == 1 else "messages",
                exc,
            )
            outcomes.update({m.id: Delivery(Outcome.retry, str(exc)) for m, _ in ready})
            return outcomes
        for (message, _), result in zip(ready, reply.results, strict=True):
            if result.status is InboxStatus.rejected:
                outcomes[message.id] = Delivery(Outcome.dead, f"dispatch rejected it: {result.detail}")
            else:
                outcomes[message.id] = Delivery(Outcome.sent)
        return outcomes

    return deliver


async def _locate(
    session_maker: async_sessionmaker[AsyncSession], territory: Territory, report_ids: list[uuid.UUID]
) -> dict[str, tuple[str | None, str | None] | None]:
    """(cell, community) per known report id, locating those not located yet; None while it cannot be."""
    if not report_ids:
        return {}
    if not territory.loaded:
        async with session_scope(session_maker) as session:
            dialect = session.get_bind().dialect.name
            waiting = await session.scalar(
                select(Report.id)
                .where(one_of(Report.id, report_ids, dialect), Report.located.is_(False))
                .limit(1)
            )
        if waiting is not None:  # outside any session: the refresh stores the cells in its own
            await territory.try_refresh()
    async with session_scope(session_maker) as session:
        query = select(Report).where(one_of(Report.id, report_ids, session.get_bind().dialect.name))
        rows = (await session.scalars(query)).all()
        now = utcnow()
        for report in rows:
            placement = None if report.located else territory.locate(report.lat, report.lon)
            if placement is not None:
                report.located = True
                report.grid_cell = placement.grid_cell
                report.community = placement.community
                report.updated_at = now
        return {str(r.id): (r.grid_cell, r.community) if r.located else None for r in rows}


def build_relay(
    session_maker: async_sessionmaker[AsyncSession],
    territory: Territory,
    dispatch: DispatchClient,
    **options: Any,
) -> Relay:
    """intake's relay; ``options`` are :class:`Relay`'s (``RelaySettings.relay_options()``)."""
    deliver = make_deliver(session_maker, territory, dispatch)
    return Relay(session_maker, OutboxMessage, deliver, name="intake", **options)
