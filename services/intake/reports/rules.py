"""Pure rules about reports: request fingerprints and the `seen_at` window (who may read one: access.py)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import orjson

from shared.errors import Unprocessable


def request_hash(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a parsed body: key order and spacing do not count."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def check_seen_at(seen_at: datetime, *, now: datetime, max_skew: timedelta, max_age: timedelta) -> None:
    if seen_at > now + max_skew:
        raise Unprocessable("seen_at is in the future", field="seen_at")
    if seen_at < now - max_age:
        raise Unprocessable(f"seen_at is more than {max_age.days} days ago", field="seen_at")
