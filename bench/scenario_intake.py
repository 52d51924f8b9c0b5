"""Scenario 1: intake throughput against the limit (raw asyncpg) and the usual way (ORM)."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections import Counter
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


def run(config: BenchConfig, cores: Cores, rss: PeakRss) -> dict[str, Any]:
    """intake and its two baselines, all running at once, loaded in turns.

    The machine's speed drifts during a run (other tenants of the host), so a target measured
    only at the start and another only at the end would be compared at different speeds. Each
    target therefore gets ``intake_rounds`` slices of the measuring time, the targets taking
    turns, and its figures are the medians over its slices; after each of intake's slices the
    harness waits for intake's outbox to drain, so the pipeline's tail does not run into the
    next target's slice. That wait counts in intake's *sustained* rate: the slice's reports over
    the slice and the time the pipeline took to finish them, since a pipeline that falls behind
    during a slice leaves CPU to the requests and does its work after (the baselines have no
    work after).

    A fourth target is *intake's request path*: a second intake (with its grid) whose
    background tasks are off, so nothing relays its reports (they wait in its outbox), and
    no dispatch. It does what the baselines do, as intake does it; the difference between
    it and intake is the pipeline's share of the two cores.
    """
    databases = {
        name: asyncio.run(system.recreate_database(config.postgres, config.database(f"intake_{name}")))
        for name in START_ORDER
    }
    path_databases = {
        name: asyncio.run(system.recreate_database(config.postgres, config.database(f"intake_path_{name}")))
        for name in START_ORDER
    }
    baseline_url = asyncio.run(_baseline_database(config))
    # intake alone on the server core, as each baseline is; its peers (which absorb what it
    # relays) share the generator's core, which the generator barely uses (it is measured).
    pins = {"intake": cores.server, "grid": cores.generator, "dispatch": cores.generator}
    baselines = {
        label: Process(
            f"baseline_{mode}",
            [sys.executable, "-m", "bench.baseline_app", mode, baseline_url, str(port)],
            port,
            log_path=str(config.log_dir / f"baseline-{mode}.log"),
        )
        for label, mode, port in (("limit", "raw", free_port()), ("orm", "orm", free_port()))
    }
    rounds = max(1, config.intake_rounds)
    slice_s = config.intake_duration / rounds
    targets = ("intake", "limit", "orm", "request_path")
    slices: dict[str, list[dict[str, Any]]] = {target: [] for target in targets}
    cpu: dict[str, list[dict[str, float]]] = {target: [] for target in targets}
    undrained: list[str] = []
    """the outboxes still holding messages when the harness stopped waiting after a slice"""
    with contextlib.ExitStack() as stack:
        svc = stack.enter_context(
            system.three_services(databases, cpus=pins, rss=rss, label="intake", log_dir=config.log_dir)
        )
        request_path = stack.enter_context(
            system.three_services(
                path_databases,
                cpus=pins,
                rss=rss,
                label="request-path",
                log_dir=config.log_dir,
                extra_env={"WANGGE_INTAKE_BACKGROUND_TASKS": "false"},
                only=("grid", "intake"),
            )
        )
        for process in baselines.values():
            stack.enter_context(system.running(process, cores.server, rss))
        headers = asyncio.run(auth_headers("grid_worker", grid_url=svc.urls["grid"]))
        ports = (
            {"intake": int(svc.urls["intake"].rsplit(":", 1)[1])}
            | {label: process.port for label, process in baselines.items()}
            | {"request_path": int(request_path.urls["intake"].rsplit(":", 1)[1])}
        )
        # each target's processes whose CPU per report is reported, beside PostgreSQL's
        watched = {
            "intake": {name: _pid(service.process) for name, service in svc.processes.items()},
            "limit": {"limit": _pid(baselines["limit"].process)},
            "orm": {"orm": _pid(baselines["orm"].process)},
            "request_path": {"intake": _pid(request_path.processes["intake"].process)},
        }
        tables = {
            "intake": (databases["intake"], "reports"),
            "limit": (baseline_url, "bench_reports"),
            "orm": (baseline_url, "bench_reports"),
            "request_path": (path_databases["intake"], "reports"),
        }
        for turn in range(rounds):
            for index, (label, port) in enumerate(ports.items()):
                seed = config.seed + 100 * turn + index  # new report ids in every slice
                spec = closed_spec(config, cores, port, headers, duration=slice_s, seed=seed)
                before = _cpu_now(watched[label]), asyncio.run(_count(*tables[label]))
                figures = system.run_loadgen(spec)
                drained_at = time.monotonic()
                if label == "intake":  # until the statuses are back in intake: dispatch's outbox too
                    for service in ("intake", "dispatch"):
                        if not asyncio.run(_outbox_drained(databases[service], within=30.0)):
                            undrained.append(f"{service}, round {turn + 1}")
                figures["drain_s"] = round(time.monotonic() - drained_at, 2) if label == "intake" else 0.0
                figures["sustained_rps"] = round(
                    figures["ok"] / (figures["elapsed_s"] + figures["drain_s"]), 1
                )
                slices[label].append(figures)
                after = _cpu_now(watched[label]), asyncio.run(_count(*tables[label]))
                cpu[label].append(_per_report(before, after))

        # The generator's own ceiling: a server that answers at once.
        null = Process("null_server", [sys.executable, "-m", "bench.null_server", "0"], 0, ready_path=None)
        null.port = free_port()
        null.argv[-1] = str(null.port)
        with system.running(null, cores.server, rss):
            ceiling = system.run_loadgen(
                closed_spec(config, cores, null.port, headers, duration=config.ceiling_duration, warmup=0.5)
            )
        # what the request path took and left in its outbox (nothing relays it)
        path_reports = asyncio.run(_count(path_databases["intake"], "reports"))
        path_pending = asyncio.run(_pending(path_databases["intake"]))
    if not config.keep_databases:
        names = [
            *(f"intake_{name}" for name in START_ORDER),
            *(f"intake_path_{name}" for name in START_ORDER),
        ]
        for name in [*names, "baseline"]:
            asyncio.run(system.drop_database(config.postgres, config.database(name)))

    results: dict[str, Any] = {label: _median_of(runs) for label, runs in slices.items()}
    for label, readings in cpu.items():
        results[label]["cpu_ms_per_report"] = {
            name: round(statistics.median(reading[name] for reading in readings), 3) for name in readings[0]
        }
    results["generator_ceiling"] = ceiling
    intake, limit, orm = results["intake"], results["limit"], results["orm"]
    results["request_path"] |= {"reports_stored": path_reports, "outbox_pending": path_pending}
    results["undrained_outboxes"] = undrained
    path_figures = results["request_path"]
    results["ratios"] = {
        "request_path_vs_limit": ratio(path_figures["rps"], limit["rps"]),
        "p99_request_path_vs_limit": ratio(path_figures["latency"]["p99_ms"], limit["latency"]["p99_ms"]),
        "intake_vs_limit": ratio(intake["rps"], limit["rps"]),
        "intake_sustained_vs_limit": ratio(intake["sustained_rps"], limit["rps"]),
        "intake_vs_orm": ratio(intake["rps"], orm["rps"]),
        "orm_vs_limit": ratio(orm["rps"], limit["rps"]),
        "p99_intake_vs_limit": ratio(intake["latency"]["p99_ms"], limit["latency"]["p99_ms"]),
        "best_vs_generator_ceiling": ratio(max(intake["rps"], limit["rps"], orm["rps"]), ceiling["rps"]),
        "intake_vs_limit_per_round": [
            ratio(mine["rps"], theirs["rps"])
            for mine, theirs in zip(slices["intake"], slices["limit"], strict=True)
        ],
    }
    results["targets"] = {
        "intake >= 0.6 x limit": _met((results["ratios"]["intake_vs_limit"] or 0) >= 0.6),
        "intake >= 1.5 x orm": _met((results["ratios"]["intake_vs_orm"] or 0) >= 1.5),
        "intake p99 <= limit p99": _met(intake["latency"]["p99_ms"] <= limit["latency"]["p99_ms"]),
    }
    results["payload_bytes"] = _payload_size(config)
    results["connections"] = config.intake_connections
    results["rounds"] = rounds
    return results


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One target's figures: the median over its slices of each, and the slices themselves."""
    latency = {key: statistics.median(run["latency"][key] for run in runs) for key in runs[0]["latency"]}
    statuses: Counter[str] = Counter()
    for run in runs:
        statuses.update(run["statuses"])
    return {
        "rps": statistics.median(run["rps"] for run in runs),
        "sustained_rps": statistics.median(run["sustained_rps"] for run in runs),
        "drain_s": statistics.median(run["drain_s"] for run in runs),
        "requests": sum(run["requests"] for run in runs),
        "latency": latency,
        "statuses": dict(statuses),
        "errors": dict(sum((Counter(run["errors"]) for run in runs), Counter())),
        "generator_cpu_share": statistics.median(run["generator_cpu_share"] for run in runs),
        "slices": [
            {key: run[key] for key in ("rps", "sustained_rps", "drain_s", "latency", "elapsed_s")}
            for run in runs
        ],
    }


def _pid(process: subprocess.Popen[bytes] | None) -> int:
    assert process is not None, "started above"
    return process.pid


def _cpu_now(pids: dict[str, int]) -> dict[str, float]:
    return {name: system.cpu_seconds(pid) for name, pid in pids.items()} | {
        "postgresql": system.postgres_cpu_seconds()
    }


async def _count(url: str, table: str) -> int:
    connection = await asyncpg.connect(system.dsn(url))
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


def _per_report(
    before: tuple[dict[str, float], int], after: tuple[dict[str, float], int]
) -> dict[str, float]:
    """CPU ms each process spent per report stored in one slice (its warm-up, and for intake
    the wait until its outbox drained, included: all the work those reports set going)."""
    reports = max(after[1] - before[1], 1)
    return {name: (after[0][name] - before[0][name]) / reports * 1000 for name in after[0]}


async def _outbox_drained(url: str, *, within: float) -> bool:
    """Wait until a service has sent every message of its outbox; False when ``within``
    seconds pass first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not await _pending(url):
            return True
        await asyncio.sleep(0.2)
    return False


async def _pending(url: str) -> int:
    """Messages a service's outbox still has to send."""
    connection = await asyncpg.connect(system.dsn(url))
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL")
        )
    finally:
        await connection.close()


def _payload_size(config: BenchConfig) -> int:
    from bench.payload import ReportFactory

    return len(ReportFactory(config.seed).body()[1])


def _met(ok: bool) -> str:
    return "met" if ok else "missed"
