"""Request bodies for intake's tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from .fakes import POINT_IN_A1


def report_body(*, point: tuple[float, float] = POINT_IN_A1, **overrides: Any) -> dict[str, Any]:
    lat, lon = point
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "category": "0101",
        "description": "占道经营：中山路口水果摊占用人行道",
        "location": {"lat": lat, "lon": lon, "address": "中山路 12 号"},
        "seen_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "photos": ["https://files.example.org/p/1.jpg"],
    }
    body.update(overrides)
    return body


def status_changed(
    report_ids: list[str],
    *,
    event_id: int,
    status: str,
    action: str = "dispatch",
    case_id: int = 7,
    note: str | None = None,
    department_code: str = "SM-CGJ",
    **more: Any,
) -> dict[str, Any]:
    return {
        "topic": "case.status_changed",
        "key": f"{case_id}:{event_id}",
        "payload": {
            "event_id": event_id,
            "case_id": case_id,
            "case_number": "SM20250501-0007",
            "action": action,
            "status": status,
            "department_code": department_code,
            "department_name": "思明区城管局",
            "note": note,
            "deadline_at": "2025-05-02T08:30:00Z",
            "occurred_at": f"2025-05-01T09:{event_id:02d}:00Z",
            "report_ids": report_ids,
            **more,
        },
    }
