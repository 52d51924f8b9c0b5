"""Scenario 4: console queries over N bulk-loaded cases — each list filter, a case detail, the map.

Each query is sent one at a time (one connection, a few unmeasured warm-up requests first) to
a dispatch process on the loaded database: the latency a dispatcher sees at the console.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from bench import bulk, system
from bench.auth import auth_headers
from bench.config import BenchConfig
from bench.system import Cores, PeakRss
from wangge.processes import START_ORDER

QUERIES = {
    "list": "/v1/cases?limit=20",
    "status": "/v1/cases?status=in_progress&limit=20",
    "department": "/v1/cases?department=police&limit=20",
    "grid_cell": "/v1/cases?grid_cell=35020300100101&limit=20",
    "overdue": "/v1/cases?overdue=true&limit=20",
    "q": f"/v1/cases?q={quote(bulk.SEARCH_TERM)}&limit=20",
    "urged": "/v1/cases?urged=true&limit=20",
    "due": "/v1/cases?sort=due&limit=20",
    "due_soon": "/v1/cases?due_soon=true&limit=20",
}
MAP_VIEW = "118.0726,24.4505,118.0824,24.4595"
"""A square kilometre in the middle of the cases' area (``bulk.AREA``), as a dispatcher's map
shows a community: about a twelfth of the area and of its open cases."""
MAP = f"/v1/cases/map?bbox={MAP_VIEW}"
"""The open cases in that view, as GeoJSON (measured beside the target, as the figures are)."""
TARGETED = (*QUERIES, "detail")
"""The queries the issue's target names (the lists and a case's detail); ``figures``, a
report over a month of cases rather than a page, and ``map``, every open case of a view (up to
5,000) rather than a page of 20, are measured beside them."""


def figures_path(now: datetime) -> str:
    """The figures of the last 30 days, as a supervisor asks them at the start of a meeting."""
    today = now.date()
    return f"/v1/figures?since={today - timedelta(days=29)}&until={today + timedelta(days=1)}"


def run(config: BenchConfig, cores: Cores, rss: PeakRss) -> dict[str, Any]:
    databases = {
        name: asyncio.run(system.recreate_database(config.postgres, config.database(f"console_{name}")))
        for name in START_ORDER
    }
    totals: dict[str, int] = {}
    loaded = 0.0

    def load() -> None:
        nonlocal totals, loaded
        began = time.perf_counter()
        totals = asyncio.run(
            bulk.load(system.dsn(databases["dispatch"]), config.console_cases, seed=config.seed)
        )
        loaded = time.perf_counter() - began

    queries: dict[str, Any] = {}
    pins = {"dispatch": cores.server, "grid": cores.generator}
    with system.three_services(
        databases,
        cpus=pins,
        rss=rss,
        label="console",
        log_dir=config.log_dir,
        only=("grid", "dispatch"),
        # The bulk data's stuck cases (2 % of the old ones) are overdue: automatic urging would
        # urge them all at dispatch's start, writing while the queries are measured.
        extra_env={"WANGGE_DISPATCH_AUTO_URGE": "false"},
        before_start=load,
    ) as services:
        headers = asyncio.run(auth_headers("dispatcher", grid_url=services.urls["grid"]))
        port = int(services.urls["dispatch"].rsplit(":", 1)[1])
        details = [f"/v1/cases/{i}" for i in bulk.sample_ids(config.console_cases, config.console_samples, 7)]
        figures = figures_path(datetime.now(UTC))
        for name, paths in [
            *((n, [p]) for n, p in QUERIES.items()),
            ("detail", details),
            ("map", [MAP]),
            ("figures", [figures]),
        ]:
            result = system.run_loadgen(
                {
                    "host": "127.0.0.1",
                    "port": port,
                    "cpus": sorted(cores.generator) if cores.generator else None,
                    "mode": "closed",
                    "connections": 1,
                    "duration": 120.0,
                    "warmup": 0.0,
                    "warmup_requests": 5,
                    "requests": config.console_samples,
                    "source": "paths",
                    "paths": paths,
                    "headers": headers,
                }
            )
            result["path"] = paths[0] if len(paths) == 1 else "/v1/cases/{random id}"
            queries[name] = result
    if not config.keep_databases:
        for name in START_ORDER:
            asyncio.run(system.drop_database(config.postgres, config.database(f"console_{name}")))
    worst = max(queries[name]["latency"]["p99_ms"] for name in TARGETED)
    failed = {name: q["statuses"] for name, q in queries.items() if set(q["statuses"]) != {"200"}}
    return {
        "cases": totals["cases"],
        "rows": totals,
        "load_s": round(loaded, 1),
        **bulk.describe(),
        "queries": queries,
        "non_200": failed,
        "worst_p99_ms": worst,
        "targets": {"p99 < 50 ms (every query)": "met" if worst < 50 and not failed else "missed"},
    }
