"""The outbox relay to dispatch: located before sending, retried while peers are down, never lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from services.intake.models import OutboxMessage
from shared import outbox
from shared.db import session_scope, utcnow
from shared.messages import INBOX_BODY_BYTES
from shared.outbox import Delivery, Relay

from ..conftest import Intake
from ..factories import POINT_IN_A1, report_body
from ..fakes import CELL_A1, COMMUNITY_A


async def test_report_reaches_dispatch_with_its_cell(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body)

    await intake.relay.drain()

    [message] = intake.dispatch.received
    assert message["topic"] == "report.received"
    assert message["key"] == body["id"]
    assert message["payload"]["grid_cell"] == CELL_A1
    assert message["payload"]["reporter_id"] == "wang.fang"
    assert all(m.sent_at is not None for m in await intake.outbox())


async def test_unlocated_report_waits_for_grid_then_goes_out_located(
    intake_without_territory: Intake,
) -> None:
    intake = intake_without_territory
    body = report_body()
    created = await intake.post_report(body)
    assert created.status_code == 201
    assert created.json()["located"] is False

    await intake.relay.run_once()

    assert intake.dispatch.received == []
    [waiting] = await intake.outbox()
    assert waiting.sent_at is None and waiting.dead_at is None and waiting.attempts == 1

    intake.grid.down = False
    await intake.relay.drain()

    [message] = intake.dispatch.received
    assert (message["payload"]["grid_cell"], message["payload"]["community"]) == (CELL_A1, COMMUNITY_A)
    report = (await intake.client.get(f"/v1/reports/{body['id']}")).json()
    assert (report["located"], report["grid_cell"]) == (True, CELL_A1)
    assert all(m.sent_at is not None for m in await intake.outbox())


async def test_a_batch_of_the_largest_reports_goes_out_in_several_requests(intake: Intake) -> None:
    # 100 reports as large as the contract allows: 1.1 MB in one request, which dispatch refuses
    photo = "https://files.example.org/" + "p" * 470 + ".jpg"
    lat, lon = POINT_IN_A1
    bodies = [
        report_body(
            description="街" * 2000,
            photos=[photo] * 9,
            location={"lat": lat, "lon": lon, "address": "路" * 200},
        )
        for _ in range(100)
    ]
    for body in bodies:
        assert (await intake.post_report(body)).status_code == 201

    await intake.relay.drain(max_batches=5)  # one batch of 100; a refused one would come back

    assert sorted(intake.dispatch.report_ids) == sorted(b["id"] for b in bodies)
    assert intake.dispatch.answers == ["accepted"] * 100
    assert len(intake.dispatch.body_sizes) >= 3
    assert max(intake.dispatch.body_sizes) <= INBOX_BODY_BYTES < sum(intake.dispatch.body_sizes)
    assert all(m.sent_at is not None for m in await intake.outbox())


async def test_a_dispatch_that_takes_less_gets_smaller_requests(intake: Intake) -> None:
    intake.dispatch.max_body_bytes = 100_000  # its operator set WANGGE_DISPATCH_MAX_BODY_BYTES low
    bodies = [report_body(description="街" * 2000) for _ in range(40)]  # 6 kB each, 250 kB in all
    for body in bodies:
        await intake.post_report(body)

    await intake.relay.drain(max_batches=5)

    assert sorted(intake.dispatch.report_ids) == sorted(b["id"] for b in bodies)
    assert intake.dispatch.answers == ["accepted"] * 40
    assert all(m.sent_at is not None for m in await intake.outbox())


async def test_a_report_larger_than_dispatch_takes_is_dead_and_the_rest_go(intake: Intake) -> None:
    intake.dispatch.max_body_bytes = 5_000
    small, large = report_body(), report_body(description="街" * 2000)
    for body in (small, large):
        await intake.post_report(body)

    await intake.relay.drain(max_batches=5)

    assert intake.dispatch.report_ids == [small["id"]]
    sent, dead = sorted(await intake.outbox(), key=lambda m: m.sent_at is None)
    assert sent.key == small["id"] and sent.sent_at is not None
    assert dead.key == large["id"] and dead.dead_at is not None and "413" in (dead.last_error or "")


async def test_dispatch_down_retries_later_and_delivers_each_once(intake: Intake) -> None:
    bodies = [report_body() for _ in range(3)]
    for body in bodies:
        await intake.post_report(body)
    intake.dispatch.mode = "down"

    await intake.relay.run_once()

    assert intake.dispatch.received == []
    assert [m.attempts for m in await intake.outbox()] == [1, 1, 1]

    intake.dispatch.mode = "ok"
    await intake.relay.drain()

    assert sorted(intake.dispatch.report_ids) == sorted(b["id"] for b in bodies)
    assert intake.dispatch.answers == ["accepted"] * 3
    assert all(m.sent_at is not None for m in await intake.outbox())


async def test_lost_reply_is_redelivered_and_answered_duplicate(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body)
    intake.dispatch.mode = "crash"

    await intake.relay.run_once()
    intake.dispatch.mode = "ok"
    await intake.relay.drain()

    assert intake.dispatch.report_ids == [body["id"], body["id"]]
    assert intake.dispatch.answers == ["accepted", "duplicate"]
    assert all(m.sent_at is not None for m in await intake.outbox())


async def test_relay_crash_between_send_and_mark_is_redelivered_by_another(intake: Intake) -> None:
    bodies = [report_body() for _ in range(2)]
    for body in bodies:
        await intake.post_report(body)
    deliver = intake.relay.deliver  # the real delivery, then the process dies before marking

    async def send_then_die(messages: Sequence[Any]) -> dict[int, Delivery]:
        await deliver(messages)
        raise asyncio.CancelledError

    crashing = Relay(
        intake.relay.session_maker, OutboxMessage, send_then_die, name="crashing", lease_seconds=0.01
    )
    with pytest.raises(asyncio.CancelledError):
        await crashing.run_once()
    assert all(m.sent_at is None and m.lease_owner == f"{crashing.owner}/1" for m in await intake.outbox())

    await asyncio.sleep(0.05)  # the crashed relay's lease runs out
    await intake.relay.drain()

    assert sorted(intake.dispatch.report_ids) == sorted([b["id"] for b in bodies] * 2)
    assert intake.dispatch.answers == ["accepted", "accepted", "duplicate", "duplicate"]
    assert all(m.sent_at is not None for m in await intake.outbox())


async def test_a_delivery_that_outlasts_its_lease_is_cut_short_and_retried(intake: Intake) -> None:
    """Past its lease another relay could claim the batch and send it again while it is sent."""
    body = report_body()
    await intake.post_report(body)
    deliver = intake.relay.deliver

    async def stuck(messages: Sequence[Any]) -> dict[int, Delivery]:
        await asyncio.sleep(5)  # a peer that takes the request and never answers
        return await deliver(messages)

    slow = Relay(
        intake.relay.session_maker,
        OutboxMessage,
        stuck,
        name="slow",
        lease_seconds=0.25,
        max_backoff_seconds=0,
    )
    started = time.monotonic()
    assert await slow.run_once() == 1
    assert time.monotonic() - started < 2

    [message] = await intake.outbox()
    assert message.sent_at is None and message.lease_owner is None and message.attempts == 1
    assert message.last_error == "delivery took longer than 80% of the 0.25 s lease"
    await intake.relay.drain()
    assert intake.dispatch.report_ids == [body["id"]]


async def test_rejected_message_is_dead_and_others_go_on(intake: Intake) -> None:
    intake.dispatch.reject_categories = {"9999"}
    await intake.post_report(report_body(category="9999"))
    await intake.post_report(report_body())

    await intake.relay.drain()

    dead, sent = await intake.outbox()
    assert dead.dead_at is not None and dead.sent_at is None
    assert "rejected" in (dead.last_error or "")
    assert sent.sent_at is not None


async def test_relays_claiming_at_once_split_the_messages_between_them(intake: Intake) -> None:
    """Each message is leased to one relay: the claim locks what it takes and skips what is locked."""
    for _ in range(10):
        await intake.post_report(report_body())
    relays = [
        Relay(intake.relay.session_maker, OutboxMessage, intake.relay.deliver, name=f"r{i}", batch_size=4)
        for i in range(3)
    ]

    claims = await asyncio.gather(*(relay.claim() for relay in relays))
    again = await relays[0].claim()

    ids = [[message.id for message in claim.messages] for claim in claims]
    assert all(claim == sorted(claim) for claim in ids)  # oldest first
    assert sorted(i for claim in ids for i in claim) == [m.id for m in await intake.outbox()]
    assert again.messages == []  # all leased
    owners = {m.id: m.lease_owner for m in await intake.outbox()}
    assert all(owners[m.id] == claim.lease for claim in claims for m in claim.messages)


async def test_each_claim_of_one_relay_has_a_lease_of_its_own(intake: Intake) -> None:
    for _ in range(4):
        await intake.post_report(report_body())
    relay = Relay(intake.relay.session_maker, OutboxMessage, intake.relay.deliver, name="r", batch_size=2)

    first, second = await relay.claim(), await relay.claim()

    assert first.lease != second.lease and first.lease.startswith(relay.owner)
    owners = {m.id: m.lease_owner for m in await intake.outbox()}
    assert [owners[m.id] for m in first.messages + second.messages] == [first.lease] * 2 + [second.lease] * 2


async def test_a_mark_after_its_lease_ran_out_leaves_the_next_claim_alone(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of the same relay that claimed the messages again keeps them until it marks them.

    The first batch's delivery fails only after its lease ran out (a mark held up past the
    deadline), while the second batch is sending the same message: the failure must not hand
    the message to a third claim, which would send it while the second is still at it.
    """
    monkeypatch.setattr(outbox, "DELIVERY_SHARE_OF_LEASE", 100.0)  # no deadline: the mark comes late
    body = report_body()
    await intake.post_report(body)
    first_sending, second_sending, second_may_finish = asyncio.Event(), asyncio.Event(), asyncio.Event()
    calls = 0

    async def deliver(messages: Sequence[Any]) -> dict[int, Delivery]:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first batch: fails once the second is sending
            first_sending.set()
            await second_sending.wait()
            raise RuntimeError("the peer hung up")
        second_sending.set()
        await second_may_finish.wait()
        return await intake.relay.deliver(messages)

    relay = Relay(
        intake.relay.session_maker, OutboxMessage, deliver, name="r", lease_seconds=1, max_backoff_seconds=0
    )
    clock = [utcnow()]  # the relay's clock, moved by hand: a loaded machine cannot run a lease out early
    monkeypatch.setattr(outbox, "utcnow", lambda: clock[0])
    first = asyncio.create_task(relay.run_once())
    await first_sending.wait()
    clock[0] += timedelta(seconds=1.1)  # the first batch's lease runs out
    second = asyncio.create_task(relay.run_once())
    assert await first == 1

    assert (await relay.claim()).messages == []  # the second batch still holds the message
    [message] = await intake.outbox()
    assert message.lease_owner == f"{relay.owner}/2" and message.attempts == 0
    second_may_finish.set()
    assert await second == 1
    [message] = await intake.outbox()
    assert message.sent_at is not None and message.attempts == 0
    assert intake.dispatch.report_ids == [body["id"]]


async def test_sent_messages_are_kept_a_week_dead_ones_90_days_and_pending_ones_stay(
    intake: Intake,
) -> None:
    bodies = [report_body() for _ in range(4)]
    for body in bodies:
        await intake.post_report(body)
    await intake.relay.drain()
    old_sent, recent_sent, old_dead, pending = (m.id for m in await intake.outbox())
    now = utcnow()
    async with session_scope(intake.relay.session_maker) as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == old_sent).values(sent_at=now - timedelta(days=8))
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == recent_sent)
            .values(sent_at=now - timedelta(days=6))
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == old_dead)
            .values(sent_at=None, dead_at=now - timedelta(days=30), created_at=now - timedelta(days=30))
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == pending)
            .values(sent_at=None, created_at=now - timedelta(days=30))
        )

    assert intake.relay.keep_sent == timedelta(days=7)  # the setting's default
    assert await intake.relay.purge() == 1
    assert [m.id for m in await intake.outbox()] == [recent_sent, old_dead, pending]
    assert await intake.relay.purge() == 0
    assert await intake.relay.purge(now=now + timedelta(days=2)) == 1  # a week after its sending
    assert [m.id for m in await intake.outbox()] == [old_dead, pending]
    assert intake.relay.keep_dead == timedelta(days=90)
    assert await intake.relay.purge(now=now + timedelta(days=59)) == 0
    assert await intake.relay.purge(now=now + timedelta(days=61)) == 1  # dead for 91 days
    assert [m.id for m in await intake.outbox()] == [pending]
