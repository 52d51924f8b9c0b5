"""Scenario 1: intake throughput against the limit (raw asyncpg) and the usual way (ORM)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from bench import system
from bench.auth import auth_headers
from bench.baseline_app import Base as BaselineBase
from bench.config import BenchConfig
from bench.stats import ratio
from bench.system import Cores, PeakRss, Process
from wangge.processes import START_ORDER, free_port


def closed_spec(config: BenchConfig, cores: Cores, port: int, headers: dict[str, str], **over: Any) -> dict:
    return {
        "host": "127.0.0.1",
        "port": port,
        "cpus": sorted(cores.generator) if cores.generator else None,
        "mode": "closed",
        "connections": config.intake_connections,
        "duration": config.intake_duration,
        "warmup": config.intake_warmup,
        "source": "reports",
        "path": "/v1/reports",
        "headers": headers,
        "seed": config.seed,
    } | over


async def _baseline_database(config: BenchConfig) -> str:
    url = await system.recreate_database(config.postgres, config.database("baseline"))
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(BaselineBase.metadata.create_all)
    await engine.dispose()
    return url


async def _truncate(url: str) -> None:
    connection = await asyncpg.connect(system.dsn(url))
    try:
        await connection.execute("TRUNCATE bench_reports")
        await connection.execute("VACUUM ANALYZE bench_reports")
    finally:
        await connection.close()


def run(config: BenchConfig, cores: Cores, rss: PeakRss) -> dict[str, Any]:
    results: dict[str, Any] = {}
    databases = {
        name: asyncio.run(system.recreate_database(config.postgres, config.database(f"intake_{name}")))
        for name in START_ORDER
    }
    # intake alone on the server core, as each baseline is; its peers (which absorb what it
    # relays) share the generator's core, which the generator barely uses (it is measured).
    pins = {"intake": cores.server, "grid": cores.generator, "dispatch": cores.generator}
    with system.three_services(databases, cpus=pins, rss=rss, label="intake", log_dir=config.log_dir) as svc:
        headers = asyncio.run(auth_headers("grid_worker", grid_url=svc.urls["grid"]))
        port = int(svc.urls["intake"].rsplit(":", 1)[1])
        results["intake"] = system.run_loadgen(closed_spec(config, cores, port, headers))
    if not config.keep_databases:
        for name in START_ORDER:
            asyncio.run(system.drop_database(config.postgres, config.database(f"intake_{name}")))

    # The generator's own ceiling: a server that answers at once.
    null = Process("null_server", [sys.executable, "-m", "bench.null_server", "0"], 0, ready_path=None)
    null.port = free_port()
    null.argv[-1] = str(null.port)
    with system.running(null, cores.server, rss):
        results["generator_ceiling"] = system.run_loadgen(
            closed_spec(config, cores, null.port, headers, duration=config.ceiling_duration, warmup=0.5)
        )

    url = asyncio.run(_baseline_database(config))
    for mode, label in (("raw", "limit"), ("orm", "orm")):
        port = free_port()
        app = Process(
            f"baseline_{mode}",
            [sys.executable, "-m", "bench.baseline_app", mode, url, str(port)],
            port,
            log_path=str(config.log_dir / f"baseline-{mode}.log"),
        )
        with system.running(app, cores.server, rss):
            results[label] = system.run_loadgen(closed_spec(config, cores, port, headers))
        asyncio.run(_truncate(url))
    if not config.keep_databases:
        asyncio.run(system.drop_database(config.postgres, config.database("baseline")))

    intake, limit, orm = results["intake"], results["limit"], results["orm"]
    ceiling = results["generator_ceiling"]["rps"]
    results["ratios"] = {
        "intake_vs_limit": ratio(intake["rps"], limit["rps"]),
        "intake_vs_orm": ratio(intake["rps"], orm["rps"]),
        "orm_vs_limit": ratio(orm["rps"], limit["rps"]),
        "p99_intake_vs_limit": ratio(intake["latency"]["p99_ms"], limit["latency"]["p99_ms"]),
        "best_vs_generator_ceiling": ratio(max(intake["rps"], limit["rps"], orm["rps"]), ceiling),
    }
    results["targets"] = {
        "intake >= 0.6 x limit": _met((results["ratios"]["intake_vs_limit"] or 0) >= 0.6),
        "intake >= 1.5 x orm": _met((results["ratios"]["intake_vs_orm"] or 0) >= 1.5),
        "intake p99 <= limit p99": _met(intake["latency"]["p99_ms"] <= limit["latency"]["p99_ms"]),
    }
    results["payload_bytes"] = _payload_size(config)
    results["connections"] = config.intake_connections
    return results


def _payload_size(config: BenchConfig) -> int:
    from bench.payload import ReportFactory

    return len(ReportFactory(config.seed).body()[1])


def _met(ok: bool) -> str:
    return "met" if ok else "missed"
