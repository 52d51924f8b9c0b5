"""``GET /metrics``: what an operator's Prometheus reads of dispatch's outbox, without a token."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.dispatch import factories
from tests.dispatch.conftest import Dispatch


async def test_metrics_show_the_status_changes_waiting_and_those_intake_refused(dispatch: Dispatch) -> None:
    await dispatch.deliver(factories.report())
    dispatch.intake.status = "rejected"
    await dispatch.relay.drain()
    dispatch.intake.status = "accepted"
    await dispatch.deliver(factories.report(lat=factories.LAT + 0.01))

    answer = await dispatch.client.get("/metrics")

    assert answer.status_code == 200
    seen = {
        sample.name: sample
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name.startswith("wangge_outbox_")
    }
    assert {sample.labels["outbox"] for sample in seen.values()} == {"dispatch"}
    assert seen["wangge_outbox_pending_messages"].value == 1
    assert seen["wangge_outbox_retrying_messages"].value == 0
    assert seen["wangge_outbox_dead_messages"].value == 1
    assert 0 <= seen["wangge_outbox_oldest_pending_age_seconds"].value < 60
