"""``GET /metrics``: intake's and dispatch's outboxes for Prometheus (or any agent that reads its
text format), computed when scraped: one statement an outbox (``shared/outbox_admin.py``), and
nothing counted on the way of a request, whose path stays as it was.

Per outbox (label ``outbox``: ``intake``, ``webhooks`` or ``dispatch``, as ``wangge outbox``
names them): ``wangge_outbox_pending_messages``, ``wangge_outbox_oldest_pending_age_seconds``
(0 when none waits), ``wangge_outbox_retrying_messages`` and ``wangge_outbox_dead_messages``;
and the process's own (``process_resident_memory_bytes``, CPU seconds, open files, start time).

Public like the health probes: counts only, no id, no content, and a scraper cannot hold a
token that lives fifteen minutes. A scrape while the database is out of reach is a 503 problem,
as for ``/readyz``: Prometheus records the target down.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.responses import Response

from shared import outbox_admin
from shared.db import utcnow
from shared.deps import SessionDep
from shared.schemas import Problem

METRICS_PATH = "/metrics"


class OutboxGauges(Collector):
    """The gauges of backlogs read for one scrape."""

    def __init__(self, backlogs: Mapping[str, outbox_admin.Backlog], now: datetime) -> None:
        self.backlogs = backlogs
        self.now = now

    def collect(self) -> Iterator[Metric]:
        gauges = {
            "pending": GaugeMetricFamily(
                "wangge_outbox_pending_messages",
                "Messages not yet delivered nor dead: waiting for the relay or for their retry",
                labels=["outbox"],
            ),
            "oldest": GaugeMetricFamily(
                "wangge_outbox_oldest_pending_age_seconds",
                "How long the oldest pending message has waited since it was written (0: none waits)",
                labels=["outbox"],
            ),
            "retrying": GaugeMetricFamily(
                "wangge_outbox_retrying_messages",
                "Pending messages tried and failed at least once",
                labels=["outbox"],
            ),
            "dead": GaugeMetricFamily(
                "wangge_outbox_dead_messages",
                "Messages refused for good or given up, kept for inspection (wangge outbox dead)",
                labels=["outbox"],
            ),
        }
        for name, backlog in self.backlogs.items():
            gauges["pending"].add_metric([name], backlog.pending)
            gauges["oldest"].add_metric([name], backlog.oldest_pending_seconds(self.now))
            gauges["retrying"].add_metric([name], backlog.retrying)
            gauges["dead"].add_metric([name], backlog.dead)
        yield from gauges.values()


def metrics_router(outboxes: Mapping[str, type[Any]]) -> APIRouter:
    """``GET /metrics`` over ``outboxes`` (a name per outbox model of the service)."""
    router = APIRouter(tags=["health"])

    @router.get(
        METRICS_PATH,
        summary="Metrics for Prometheus",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus' text format (OpenMetrics when the scraper asks for it)",
                "content": {"text/plain": {"example": _example(list(outboxes))}},
            },
            503: {"model": Problem, "description": "The database is out of reach"},
        },
    )
    async def metrics(request: Request, session: SessionDep) -> Response:
        """The backlog of each of the service's outboxes, read when scraped, and the process's
        memory, CPU and open files. Alert on `wangge_outbox_oldest_pending_age_seconds` above a
        minute (a peer down or refusing) and on any rise of `wangge_outbox_dead_messages`."""
        backlogs = {name: await outbox_admin.backlog(session, model) for name, model in outboxes.items()}
        registry = CollectorRegistry(auto_describe=False)
        registry.register(OutboxGauges(backlogs, utcnow()))
        ProcessCollector(registry=registry)
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(registry), media_type=content_type)

    return router


def _example(names: list[str]) -> str:
    """The start of an answer, for the OpenAPI document."""
    lines = ["# TYPE wangge_outbox_pending_messages gauge"]
    lines += [f'wangge_outbox_pending_messages{{outbox="{name}"}} 3.0' for name in names]
    lines += ["# TYPE wangge_outbox_oldest_pending_age_seconds gauge"]
    lines += [f'wangge_outbox_oldest_pending_age_seconds{{outbox="{name}"}} 0.42' for name in names]
    return "\n".join([*lines, "…"]) + "\n"
