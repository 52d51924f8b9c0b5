"""The bodies a relay posts are batches the receiving inbox validates as it validates any."""

from __future__ import annotations

import uuid

from shared.messages import MAX_BATCH, InboxBatch, inbox_bodies


def test_a_relays_batch_reads_back_as_the_inbox_contract() -> None:
    report_id = str(uuid.uuid4())
    payload = {"report_id": report_id, "lat": 24.4512345678, "photos": ["a.jpg"], "address": None, "n": 3}
    status = {"event_id": 9, "report_ids": [report_id], "note": '中华街道 "quoted"'}
    [(count, body)] = inbox_bodies(
        [("report.received", report_id, payload), ("case.status_changed", "7:9", status)]
    )

    batch = InboxBatch.model_validate_json(body)
    assert count == 2
    assert [(m.topic, m.key, m.payload) for m in batch.messages] == [
        ("report.received", report_id, payload),
        ("case.status_changed", "7:9", status),
    ]


def test_a_large_batch_is_split_by_bytes_and_by_count_keeping_its_order() -> None:
    messages = [("report.received", str(n), {"note": "街" * (n % 7) * 300}) for n in range(1_200)]

    for max_bytes in (6_000, 40_000, 10_000_000):  # the largest message is 5.4 kB
        bodies = inbox_bodies(messages, max_bytes=max_bytes)

        read = [InboxBatch.model_validate_json(body) for _, body in bodies]
        assert [count for count, _ in bodies] == [len(batch.messages) for batch in read]
        assert [m.key for batch in read for m in batch.messages] == [key for _, key, _ in messages]
        assert all(len(body) <= max_bytes for _, body in bodies)
        assert all(len(batch.messages) <= MAX_BATCH for batch in read)
    assert len(inbox_bodies(messages, max_bytes=10_000_000)) == 3  # 500, 500, 200: by count alone


def test_a_message_larger_than_the_budget_goes_alone() -> None:
    small, large = ("t", "a", {"x": 1}), ("t", "b", {"x": "y" * 5_000})

    bodies = inbox_bodies([small, large, small], max_bytes=1_000)

    assert [count for count, _ in bodies] == [1, 1, 1]
    assert len(bodies[1][1]) > 1_000


def test_a_body_may_be_exactly_the_budget() -> None:
    messages = [("t", str(n), {"x": "y" * 50}) for n in range(10)]
    [(_, whole)] = inbox_bodies(messages, max_bytes=10_000)

    assert [count for count, _ in inbox_bodies(messages, max_bytes=len(whole))] == [10]
    assert [count for count, _ in inbox_bodies(messages, max_bytes=len(whole) - 1)] == [9, 1]
