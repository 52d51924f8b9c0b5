"""The terminal table of a bench run (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _lat(result: dict[str, Any]) -> tuple[str, str]:
    latency = result["latency"]
    return f"{latency['p50_ms']:.1f}", f"{latency['p99_ms']:.1f}"


def print_results(results: dict[str, Any], console: Console) -> None:
    scenarios = results["scenarios"]
    if "intake" in scenarios:
        data = scenarios["intake"]
        table = Table(
            title=f"1. intake throughput ({data['connections']} clients, {data['payload_bytes']} B reports)"
        )
        for column in ("target", "req/s", "sustained/s", "p50 ms", "p99 ms", "vs limit", "generator CPU"):
            table.add_column(column, justify="right" if column != "target" else "left")
        limit = data["limit"]["rps"]
        for key, label in (
            ("limit", "limit: FastAPI + raw asyncpg"),
            ("orm", "usual: FastAPI + ORM session"),
            ("intake", "intake (wangge)"),
            ("request_path", "intake's request path (nothing relayed)"),
            ("generator_ceiling", "null server (generator ceiling)"),
        ):
            row = data[key]
            table.add_row(
                label,
                f"{row['rps']:.0f}",
                f"{row['sustained_rps']:.0f}" if "sustained_rps" in row else "-",
                *_lat(row),
                f"{row['rps'] / limit:.2f}×" if limit else "-",
                f"{row['generator_cpu_share']:.0%}",
            )
        console.print(table)
        console.print(
            "  sustained: a slice's reports over the slice and the time the pipeline then took to"
            f" finish them (intake: {data['intake'].get('drain_s', 0):.1f} s after a slice, median)"
        )
        for key, label in (
            ("intake", "intake"),
            ("request_path", "intake's request path"),
            ("limit", "the limit"),
            ("orm", "the usual way"),
        ):
            spent = data[key].get("cpu_ms_per_report", {})
            figures = ", ".join(f"{name} {ms:.2f}" for name, ms in spent.items())
            console.print(f"  CPU ms per report, {label}: {figures}")
        for outbox in data.get("undrained_outboxes", []):
            console.print(
                f"  [yellow]! the outbox of {outbox} had not drained after 30 s:[/] its CPU per report is low"
            )
    if "pipeline" in scenarios:
        data = scenarios["pipeline"]
        table = Table(
            title=f"2. pipeline: 201 → dispatched at {data['offered_rate']:.0f} reports/s"
            f" for {data['duration_s']:.0f} s"
        )
        for column in ("measure", "value"):
            table.add_column(column)
        latency = data["latency_201_to_dispatched"]
        table.add_row(
            "reports accepted / dispatched", f"{data['reports_accepted']} / {data['reports_dispatched']}"
        )
        table.add_row("intake 201 p50 / p99 ms", " / ".join(_lat(data["intake_201"])))
        table.add_row("201 → dispatched p50 / p99 ms", f"{latency['p50_ms']:.1f} / {latency['p99_ms']:.1f}")
        table.add_row(
            "p50 first / last third ms",
            f"{data['latency_first_third_p50_ms']:.1f} / {data['latency_last_third_p50_ms']:.1f}",
        )
        table.add_row(
            f"p99 per {data['window_s']} s of load, ms",
            " ".join(f"{p99:.0f}" for p99 in data["p99_ms_by_window"]),
        )
        table.add_row("warm-up before (not measured) s", f"{data['warmup_s']:.0f}")
        table.add_row("backlog drain after load s", f"{data['drain_s']:.2f}")
        table.add_row("backlog growing", str(data["backlog_growing"]))
        console.print(table)
    if "locate" in scenarios:
        data = scenarios["locate"]
        table = Table(title=f"3. locate over {data['cells']} cells")
        for column in ("path", "lookups/s", "p50 ms", "p99 ms"):
            table.add_column(column)
        table.add_row("in-process CellIndex", f"{data['in_process']['lookups_per_s']:.0f}", "-", "-")
        table.add_row("GET /v1/locate", f"{data['http']['rps']:.0f}", *_lat(data["http"]))
        console.print(table)
    if "console" in scenarios:
        data = scenarios["console"]
        table = Table(title=f"4. console over {data['cases']:,} cases (one at a time)")
        for column in ("query", "p50 ms", "p99 ms", "path"):
            table.add_column(column)
        for name, query in data["queries"].items():
            table.add_row(name, *_lat(query), query["path"])
        console.print(table)
    memory = scenarios.get("memory", {}).get("peak_rss_mb", {})
    if memory:
        table = Table(title="5. peak RSS")
        table.add_column("process")
        table.add_column("MB", justify="right")
        for label, megabytes in memory.items():
            table.add_row(label, f"{megabytes:.1f}")
        console.print(table)
    if results.get("targets"):
        table = Table(title="targets")
        table.add_column("target")
        table.add_column("verdict")
        for target, verdict in results["targets"].items():
            table.add_row(target, f"[green]{verdict}[/]" if verdict == "met" else f"[red]{verdict}[/]")
        console.print(table)
