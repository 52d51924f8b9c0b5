"""``wangge bench``: the argparse wiring. ``wangge/cli.py`` calls :func:`add_parser`."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bench.config import FULL, SCENARIOS, TINY, BenchConfig

SIZE_OPTIONS = {
    "intake_connections": (int, "concurrent clients of the intake scenario"),
    "intake_duration": (float, "seconds measured per target in the intake scenario"),
    "intake_rounds": (int, "turns the intake scenario's targets take, each measuring duration/rounds"),
    "pipeline_rate": (float, "reports/s offered in the pipeline scenario"),
    "pipeline_duration": (float, "seconds of load in the pipeline scenario"),
    "locate_cells": (int, "generated grid cells in the locate scenario"),
    "console_cases": (int, "cases bulk-loaded for the console scenario"),
    "console_samples": (int, "measured requests per console query"),
}


def add_parser(subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``bench`` on the ``wangge`` command."""
    defaults = BenchConfig()
    parser = subcommands.add_parser(
        "bench",
        help="benchmark the services on PostgreSQL against their baselines",
        description=(
            "Runs the scenarios (intake throughput, pipeline latency, locate, console queries, "
            "peak RSS) on fresh PostgreSQL databases, prints a table and writes JSON. The default "
            "sizes finish in a few minutes on two cores; --full runs the sizes the README's "
            "targets are set at."
        ),
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        dest="scenarios",
        help="run only this scenario (repeatable); default all",
    )
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument(
        "--full",
        action="store_true",
        help="the targets' sizes: 200 reports/s for 30 s, 10,000 cells, 1,000,000 cases (5-11 min)",
    )
    sizes.add_argument("--tiny", action="store_true", help="seconds-long sizes (the smoke test)")
    for name, (kind, text) in SIZE_OPTIONS.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            default=None,
            help=f"{text} (default {getattr(defaults, name)})",
        )
    parser.add_argument(
        "--json", type=Path, default=Path("bench-results/latest.json"), help="where to write JSON"
    )
    parser.add_argument(
        "--postgres", default=defaults.postgres, help="PostgreSQL server, postgresql://user@host:port"
    )
    parser.add_argument("--db-prefix", default=defaults.db_prefix, help="prefix of the databases created")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and generator to CPUs")
    parser.add_argument("--keep-databases", action="store_true", help="leave the bench databases behind")
    parser.set_defaults(run=cmd_bench)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    config = BenchConfig(
        postgres=args.postgres,
        db_prefix=args.db_prefix,
        scenarios=tuple(args.scenarios or SCENARIOS),
        pin=not args.no_pin,
        keep_databases=args.keep_databases,
        log_dir=args.json.parent / "logs",
    )
    for name, value in (FULL if args.full else TINY if args.tiny else {}).items():
        setattr(config, name, value)
    for name in SIZE_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, value)
    return config


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    from bench.report import print_results
    from bench.runner import run, write_json

    results = run(config_from_args(args), console)
    write_json(results, args.json)
    print_results(results, console)
    console.print(f"\nresults written to {args.json}")
    return 0
