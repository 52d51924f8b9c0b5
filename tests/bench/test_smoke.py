"""The bench harness runs end to end at a tiny size on PostgreSQL and writes every scenario.

No timing is asserted: only that each scenario ran and its numbers are sane and positive.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, PG_SERVER, WORKER
from wangge.cli import main

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("e2e"),
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="the bench runs on PostgreSQL only"),
]


def test_bench_runs_every_scenario_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    code = main(
        [
            "bench",
            "--tiny",
            "--json",
            str(out),
            "--postgres",
            PG_SERVER,
            "--db-prefix",
            f"wangge_bench_smoke_{WORKER}",
        ]
    )

    assert code == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    scenarios = results["scenarios"]
    assert set(scenarios) == {"intake", "pipeline", "locate", "console", "memory"}

    intake = scenarios["intake"]
    for target in ("limit", "orm", "intake", "request_path", "generator_ceiling"):
        assert intake[target]["rps"] > 0, target
        assert intake[target]["latency"]["p99_ms"] >= intake[target]["latency"]["p50_ms"] > 0
        assert set(intake[target]["statuses"]) == {"201"}, (target, intake[target]["statuses"])
    assert intake["ratios"]["intake_vs_limit"] > 0 and intake["ratios"]["request_path_vs_limit"] > 0
    # the pipeline's time to finish a slice's reports counts in intake's sustained rate alone
    assert (
        0 < intake["intake"]["sustained_rps"] <= intake["intake"]["rps"] and intake["intake"]["drain_s"] >= 0
    )
    assert intake["limit"]["sustained_rps"] == intake["limit"]["rps"] and intake["limit"]["drain_s"] == 0
    spent = {target: intake[target]["cpu_ms_per_report"] for target in ("intake", "limit", "orm")}
    assert set(spent["intake"]) == {"grid", "intake", "dispatch", "postgresql"}
    assert set(spent["limit"]) == {"limit", "postgresql"} and set(spent["orm"]) == {"orm", "postgresql"}
    assert spent["intake"]["intake"] > 0 and spent["intake"]["dispatch"] > 0 and spent["limit"]["limit"] > 0
    # the request path relays nothing: each report it took waits in its outbox
    path = intake["request_path"]
    assert path["reports_stored"] == path["outbox_pending"] > 0 and path["cpu_ms_per_report"]["intake"] > 0
    assert intake["undrained_outboxes"] == []

    pipeline = scenarios["pipeline"]
    assert pipeline["reports_accepted"] > 0
    assert pipeline["reports_dispatched"] == pipeline["reports_accepted"]
    assert pipeline["latency_201_to_dispatched"]["p99_ms"] > 0
    assert pipeline["drain_s"] >= 0

    locate = scenarios["locate"]
    assert locate["in_process"]["lookups_per_s"] > 0
    assert locate["in_process"]["found"] == locate["in_process"]["lookups"]
    assert locate["http"]["rps"] > 0 and set(locate["http"]["statuses"]) == {"200"}

    console = scenarios["console"]
    assert console["cases"] == 500
    assert set(console["queries"]) == {
        *(
            "list",
            "status",
            "department",
            "grid_cell",
            "overdue",
            "q",
            "urged",
            "due",
            "due_soon",
            "detail",
            "map",
            "figures",
        )
    }
    assert not console["non_200"]
    for query in console["queries"].values():
        assert query["latency"]["count"] > 0 and query["latency"]["p99_ms"] > 0

    memory = scenarios["memory"]["peak_rss_mb"]
    assert {"intake (intake)", "dispatch (pipeline)", "grid (locate)", "dispatch (console)"} <= set(memory)
    assert all(megabytes > 10 for megabytes in memory.values())
    assert all(verdict in ("met", "missed") for verdict in results["targets"].values())
