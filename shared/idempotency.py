"""Retries of creating requests (`Idempotency-Key`): what a retry must match to be answered
again rather than refused. Each service keeps its keys where its writes are."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

MAX_KEY_LENGTH = 128
"""The longest `Idempotency-Key` a service stores (a UUID is 36 characters)."""


def request_hash(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a parsed body: key order and spacing do not count."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
