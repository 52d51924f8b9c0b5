"""What a bench run does: which scenarios, at which sizes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SCENARIOS = ("intake", "pipeline", "locate", "console")

# The sizes the performance targets are set at (``--full``).
FULL = {
    "intake_duration": 30.0,
    "intake_connections": 64,
    "intake_rounds": 3,
    "pipeline_rate": 200.0,
    "pipeline_duration": 30.0,
    "locate_cells": 10_000,
    "console_cases": 1_000_000,
    "console_samples": 500,
}
# Small enough that a test run finishes in seconds (the smoke test).
TINY = {
    "intake_duration": 1.0,
    "intake_warmup": 0.3,
    "intake_connections": 8,
    "intake_rounds": 1,
    "ceiling_duration": 0.5,
    "pipeline_rate": 20.0,
    "pipeline_duration": 1.0,
    "pipeline_warmup": 0.0,
    "locate_cells": 100,
    "locate_duration": 0.5,
    "locate_lookups": 2000,
    "console_cases": 500,
    "console_samples": 10,
}


@dataclass
class BenchConfig:
    postgres: str = field(
        default_factory=lambda: os.environ.get(
            "WANGGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432"
        )
    )
    db_prefix: str = "wangge_bench"
    scenarios: tuple[str, ...] = SCENARIOS
    pin: bool = True
    keep_databases: bool = False
    log_dir: Path = Path("bench-results/logs")
    seed: int = 4
    # 1. intake throughput (closed loop)
    intake_connections: int = 64
    intake_duration: float = 8.0
    intake_warmup: float = 2.0
    intake_rounds: int = 2
    """slices each target's measuring time is cut into, the targets taking turns"""
    ceiling_duration: float = 3.0
    # 2. pipeline latency (open loop)
    pipeline_rate: float = 50.0
    pipeline_duration: float = 10.0
    pipeline_connections: int = 64
    pipeline_warmup: float = 3.0
    """seconds of the same load before the measured load (not measured)"""
    pipeline_drain_timeout: float = 120.0
    # 3. locate
    locate_cells: int = 2_500
    locate_lookups: int = 50_000
    locate_connections: int = 32
    locate_duration: float = 5.0
    # 4. console
    console_cases: int = 100_000
    console_samples: int = 200

    def database(self, name: str) -> str:
        return f"{self.db_prefix}_{name}"
