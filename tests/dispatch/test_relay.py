"""Status changes reach every reporter of the case (a merge only the one that joined): one outbox
message per change, relayed to intake."""

from __future__ import annotations

from tests.dispatch import factories
from tests.dispatch.conftest import HANDLER, Dispatch

NEAR = 0.0002


async def test_every_status_change_enqueues_one_message_with_all_report_ids(dispatch: Dispatch) -> None:
    first, second = factories.report(), factories.report(lat=factories.LAT + NEAR, reporter_id="chen.li")
    await dispatch.deliver(first)
    await dispatch.deliver(second)
    case = await dispatch.case_of(first["report_id"])
    cid = case["id"]
    await dispatch.ok(cid, "notes", {"note": "no message for a note"})
    await dispatch.ok(cid, "accept", actor=HANDLER)
    await dispatch.ok(cid, "resolve", {"note": "done"}, actor=HANDLER)
    await dispatch.ok(cid, "verify", {"passed": True})
    final = await dispatch.ok(cid, "feedback", {"rating": 5})

    messages = await dispatch.outbox()
    changes = [e for e in final["timeline"] if e["from_status"] != e["to_status"] or e["action"] == "merged"]
    # An auto-routed report skips triage: its "registered" is on the timeline, but reporters
    # hear only the dispatch that follows at once.
    assert changes[0]["action"] == "registered"
    assert [m.key for m in messages] == [f"{cid}:{e['id']}" for e in changes[1:]]
    assert [m.payload["action"] for m in messages] == [
        "dispatched",
        "merged",
        "accepted",
        "resolved",
        "verified",
    ]
    assert [m.payload["status"] for m in messages] == [
        "dispatched",
        "dispatched",
        "in_progress",
        "resolved",
        "closed",
    ]
    both = {first["report_id"], second["report_id"]}
    assert all(set(m.payload["report_ids"]) == both for m in messages[2:])
    assert messages[0].payload["report_ids"] == [first["report_id"]]
    # Only the report that joined hears of the merge: nothing changed for the first reporter.
    assert messages[1].payload["report_ids"] == [second["report_id"]]
    assert all(m.topic == "case.status_changed" for m in messages)
    assert messages[1].payload["department_code"] == "enforcement"
    assert messages[1].payload["case_number"] == case["case_number"]


async def test_the_relay_delivers_to_intake_and_retries_while_it_is_down(dispatch: Dispatch) -> None:
    await dispatch.deliver(factories.report())
    dispatch.intake.down = True
    assert await dispatch.relay.run_once() == 1
    assert dispatch.intake.batches == []
    assert all(m.sent_at is None and m.attempts == 1 for m in await dispatch.outbox())

    dispatch.intake.down = False
    assert await dispatch.relay.drain() == 1
    assert [m["payload"]["status"] for m in dispatch.intake.messages] == ["dispatched"]
    assert all(m.sent_at is not None for m in await dispatch.outbox())
    assert await dispatch.relay.drain() == 0


async def test_a_message_intake_rejects_is_dead_not_retried(dispatch: Dispatch) -> None:
    await dispatch.deliver(factories.report(category=None))
    dispatch.intake.status = "rejected"
    await dispatch.relay.drain()
    (message,) = await dispatch.outbox()
    assert message.dead_at is not None and message.sent_at is None
    assert len(dispatch.intake.batches) == 1


async def test_duplicate_answers_count_as_delivered(dispatch: Dispatch) -> None:
    await dispatch.deliver(factories.report(category=None))
    dispatch.intake.status = "duplicate"
    await dispatch.relay.drain()
    assert all(m.sent_at is not None for m in await dispatch.outbox())
