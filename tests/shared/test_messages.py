"""The body a relay posts is a batch the receiving inbox validates as it validates any."""

from __future__ import annotations

import uuid

from shared.messages import InboxBatch, inbox_body


def test_a_relays_batch_reads_back_as_the_inbox_contract() -> None:
    report_id = str(uuid.uuid4())
    payload = {"report_id": report_id, "lat": 24.4512345678, "photos": ["a.jpg"], "address": None, "n": 3}
    status = {"event_id": 9, "report_ids": [report_id], "note": '中华街道 "quoted"'}
    body = inbox_body([("report.received", report_id, payload), ("case.status_changed", "7:9", status)])

    batch = InboxBatch.model_validate_json(body)
    assert [(m.topic, m.key, m.payload) for m in batch.messages] == [
        ("report.received", report_id, payload),
        ("case.status_changed", "7:9", status),
    ]
