"""Pure rules about reports: request fingerprints and the `seen_at` window (who may read one: access.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.errors import Unprocessable
from shared.idempotency import request_hash

__all__ = ["check_seen_at", "request_hash"]


def check_seen_at(seen_at: datetime, *, now: datetime, max_skew: timedelta, max_age: timedelta) -> None:
    if seen_at > now + max_skew:
        raise Unprocessable("seen_at is in the future", field="seen_at")
    if seen_at < now - max_age:
        raise Unprocessable(f"seen_at is more than {max_age.days} days ago", field="seen_at")
