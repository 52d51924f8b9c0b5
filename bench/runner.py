"""Runs the chosen scenarios in order, collects peak RSS throughout, writes JSON and a table."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import report
from bench.config import BenchConfig
from bench.system import Cores, PeakRss

Scenario = Callable[[BenchConfig, Cores, PeakRss], dict[str, Any]]


def _scenarios() -> dict[str, Scenario]:
    from bench import scenario_console, scenario_intake, scenario_locate, scenario_pipeline

    return {
        "intake": scenario_intake.run,
        "pipeline": scenario_pipeline.run,
        "locate": scenario_locate.run,
        "console": scenario_console.run,
    }


def run(config: BenchConfig, console: Console) -> dict[str, Any]:
    config.log_dir.mkdir(parents=True, exist_ok=True)
    cores = Cores.plan(config.pin)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "pinning": cores.describe(),
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        },
        "scenarios": {},
    }
    runners = _scenarios()
    with PeakRss() as rss:
        for name in config.scenarios:
            console.print(f"[bold]▶ {name}[/] …")
            began = time.perf_counter()
            results["scenarios"][name] = runners[name](config, cores, rss)
            results["scenarios"][name]["wall_s"] = round(time.perf_counter() - began, 1)
            console.print(f"  done in {results['scenarios'][name]['wall_s']} s")
    results["scenarios"]["memory"] = {"peak_rss_mb": rss.megabytes()}
    results["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
    results["targets"] = {
        f"{name}: {target}": verdict
        for name, scenario in results["scenarios"].items()
        for target, verdict in scenario.get("targets", {}).items()
    }
    return results


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


__all__ = ["report", "run", "write_json"]
