"""``GET /metrics``: what an operator's Prometheus reads of intake's outboxes, without a token."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from services.intake.models import OutboxMessage, WebhookMessage
from shared.db import session_scope, utcnow

from .conftest import Intake
from .factories import report_body


def gauges(text: str) -> dict[tuple[str, str], float]:
    """``(metric, outbox) → value`` of the outbox gauges in a scrape."""
    return {
        (sample.name, sample.labels["outbox"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("wangge_outbox_")
    }


async def test_metrics_show_a_backlog_its_age_the_retried_and_the_dead(intake: Intake) -> None:
    empty = await intake.client.get("/metrics", headers={"Authorization": ""})  # no token needed
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("text/plain")
    assert gauges(empty.text) == {
        (f"wangge_outbox_{name}", outbox): 0.0
        for name in ("pending_messages", "oldest_pending_age_seconds", "retrying_messages", "dead_messages")
        for outbox in ("intake", "webhooks")
    }
    assert "process_resident_memory_bytes" in empty.text

    # dispatch refuses the one report for good, then is down for the next two
    intake.dispatch.reject_categories = {"9999"}
    await intake.post_report(report_body(category="9999"))
    await intake.relay.drain()
    intake.dispatch.mode = "down"
    for _ in range(2):
        await intake.post_report(report_body())
    await intake.relay.run_once()
    async with session_scope(intake.relay.session_maker) as session:  # written 90 s ago
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.dead_at.is_(None))
            .values(created_at=utcnow() - timedelta(seconds=90))
        )

    seen = gauges((await intake.client.get("/metrics")).text)

    assert seen[("wangge_outbox_pending_messages", "intake")] == 2
    assert seen[("wangge_outbox_retrying_messages", "intake")] == 2
    assert seen[("wangge_outbox_dead_messages", "intake")] == 1
    assert 90 <= seen[("wangge_outbox_oldest_pending_age_seconds", "intake")] < 150
    assert seen[("wangge_outbox_pending_messages", "webhooks")] == 0

    async with session_scope(intake.relay.session_maker) as session:
        session.add(
            WebhookMessage(
                topic="report.updated", key="r:1", owner_id="integration:k1", payload={}, attempts=0
            )
        )
    assert (
        gauges((await intake.client.get("/metrics")).text)[("wangge_outbox_pending_messages", "webhooks")]
        == 1
    )


async def test_metrics_answer_head_and_openmetrics(intake: Intake) -> None:
    head = await intake.client.head("/metrics")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"].startswith("text/plain")

    asked = await intake.client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert asked.headers["content-type"].startswith("application/openmetrics-text")
    assert asked.text.endswith("# EOF\n")
