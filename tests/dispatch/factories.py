"""Small builders of dispatch test data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.dispatch.fakes import CELL, COMMUNITY, STALL

# 中山路, Xiamen; 0.0001° of latitude is about 11 m.
LAT, LON = 24.4550, 118.0800


def report(**overrides: Any) -> dict[str, Any]:
    """A ``report.received`` payload: a street stall in the demo cell, seen a minute ago."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "report_id": str(uuid.uuid4()),
        "category": STALL,
        "description": "占道摆摊，影响行人通行",
        "lat": LAT,
        "lon": LON,
        "address": "中山路 88 号",
        "grid_cell": CELL,
        "community": COMMUNITY,
        "seen_at": (now - timedelta(minutes=1)).isoformat(),
        "received_at": now.isoformat(),
        "reporter_id": "wang.fang",
        "channel": "app",
        "photos": [],
    }
    payload.update(overrides)
    return payload


def batch(*payloads: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages": [
            {"topic": "report.received", "key": str(p.get("report_id", "x"))[:64], "payload": p}
            for p in payloads
        ]
    }
