"""Scenario 2: pipeline latency — from intake's 201 to the case standing dispatched in dispatch.

Reports are offered at a steady rate (open loop), after ``pipeline_warmup`` seconds of the
same load that are not measured: the services have just started, and the first seconds of
a cold start (new statement shapes, empty routing cache) are not the steady state the
target is about. The p99 per window of load is reported too. For each report the harness keeps the wall
time its 201 arrived; afterwards it reads dispatch's database: a report stands on a dispatched
case at the later of the case's first ``dispatched`` event and the report's joining the case
(a report merged into a case already dispatched is there at once). Every category used has a
department in the catalog, so every report is dispatched automatically.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg

from bench import system
from bench.auth import auth_headers
from bench.config import BenchConfig
from bench.stats import summary_ms
from bench.system import Cores, PeakRss
from wangge.processes import START_ORDER

WINDOW_S = 5
"""The p99 is also reported per window of this many seconds of load (warm-up shows in the first)."""

READY = """
SELECT cr.report_id,
       extract(epoch FROM cr.received_at)::float8,
       extract(epoch FROM greatest(cr.joined_at, d.at))::float8
FROM case_reports cr
JOIN LATERAL (
    SELECT min(e.at) AS at FROM case_events e WHERE e.case_id = cr.case_id AND e.to_status = 'dispatched'
) d ON d.at IS NOT NULL
WHERE cr.report_id = ANY($1::uuid[])
"""


async def _wait_dispatched(url: str, ids: list[uuid.UUID], within: float) -> tuple[list[Any], list[Any]]:
    """Poll dispatch's database until every report stands dispatched; the rows and a backlog trace."""
    connection = await asyncpg.connect(system.dsn(url))
    trace: list[Any] = []
    try:
        deadline = time.monotonic() + within
        while True:
            count = await connection.fetchval(
                "SELECT count(*) FROM case_reports WHERE report_id = ANY($1::uuid[])", ids
            )
            trace.append((round(time.time(), 3), len(ids) - count))
            if count >= len(ids) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        rows = await connection.fetch(READY, ids)
        return rows, trace
    finally:
        await connection.close()


def run(config: BenchConfig, cores: Cores, rss: PeakRss) -> dict[str, Any]:
    databases = {
        name: asyncio.run(system.recreate_database(config.postgres, config.database(f"pipeline_{name}")))
        for name in START_ORDER
    }
    # All three services share the machine with PostgreSQL; only the generator is pinned.
    pins: dict[str, set[int] | None] = {name: None for name in START_ORDER}
    with system.three_services(
        databases, cpus=pins, rss=rss, label="pipeline", log_dir=config.log_dir
    ) as services:
        headers = asyncio.run(auth_headers("grid_worker", grid_url=services.urls["grid"]))
        port = int(services.urls["intake"].rsplit(":", 1)[1])
        spec = {
            "host": "127.0.0.1",
            "port": port,
            "cpus": sorted(cores.generator) if cores.generator else None,
            "mode": "open",
            "rate": config.pipeline_rate,
            "connections": config.pipeline_connections,
            "source": "reports",
            "path": "/v1/reports",
            "headers": headers,
        }
        if config.pipeline_warmup > 0:  # the same load, not measured, then a pause to drain it
            system.run_loadgen(spec | {"duration": config.pipeline_warmup, "seed": config.seed + 2})
            time.sleep(2.0)
        load = system.run_loadgen(
            spec | {"duration": config.pipeline_duration, "record_ids": True, "seed": config.seed + 1}
        )
        created = {uuid.UUID(report_id): at for report_id, at in load.pop("created")}
        load_ended = max(created.values(), default=time.time())
        rows, trace = asyncio.run(
            _wait_dispatched(databases["dispatch"], list(created), config.pipeline_drain_timeout)
        )
    if not config.keep_databases:
        for name in START_ORDER:
            asyncio.run(system.drop_database(config.postgres, config.database(f"pipeline_{name}")))

    from_201: list[tuple[float, float]] = []  # (201 time, latency)
    from_received: list[float] = []
    last_ready = load_ended
    for report_id, received_at, ready_at in rows:
        answered = created[report_id]
        from_201.append((answered, max(0.0, ready_at - answered)))
        from_received.append(ready_at - received_at)
        last_ready = max(last_ready, ready_at)
    from_201.sort()
    third = max(1, len(from_201) // 3)
    first, last = from_201[:third], from_201[-third:]
    latency = summary_ms([lat for _, lat in from_201])
    backlog_peak = max((pending for _, pending in trace), default=0)
    windows: dict[int, list[float]] = {}
    for answered, lat in from_201:
        windows.setdefault(int((answered - from_201[0][0]) // WINDOW_S), []).append(lat)
    result = {
        "offered_rate": config.pipeline_rate,
        "duration_s": config.pipeline_duration,
        "intake_201": load,
        "reports_accepted": len(created),
        "reports_dispatched": len(rows),
        "latency_201_to_dispatched": latency,
        "latency_received_to_dispatched": summary_ms(from_received),
        "latency_first_third_p50_ms": summary_ms([lat for _, lat in first])["p50_ms"],
        "latency_last_third_p50_ms": summary_ms([lat for _, lat in last])["p50_ms"],
        "drain_s": round(last_ready - load_ended, 3),
        "warmup_s": config.pipeline_warmup,
        "window_s": WINDOW_S,
        "p99_ms_by_window": [summary_ms(lats)["p99_ms"] for _, lats in sorted(windows.items())],
        "backlog_after_load": backlog_peak,
    }
    growing = result["latency_last_third_p50_ms"] > 2 * max(
        result["latency_first_third_p50_ms"], 50.0
    ) or len(rows) < len(created)
    result["backlog_growing"] = growing
    result["targets"] = {
        "p99 < 500 ms": "met" if latency["p99_ms"] < 500 and len(rows) == len(created) else "missed",
        "no growing backlog": "missed" if growing else "met",
    }
    return result
