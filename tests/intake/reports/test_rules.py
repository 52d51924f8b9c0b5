"""The pure rules behind report intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.reports.rules import check_seen_at, request_hash
from shared.errors import Unprocessable

NOW = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
WINDOW = {"now": NOW, "max_skew": timedelta(minutes=5), "max_age": timedelta(days=30)}


def test_request_hash_ignores_key_order() -> None:
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})


@pytest.mark.parametrize(
    "seen_at", [NOW, NOW + timedelta(minutes=4), NOW - timedelta(days=29)], ids=["now", "skew", "old"]
)
def test_seen_at_inside_the_window_passes(seen_at: datetime) -> None:
    check_seen_at(seen_at, **WINDOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "seen_at", [NOW + timedelta(minutes=6), NOW - timedelta(days=31)], ids=["future", "too-old"]
)
def test_seen_at_outside_the_window_is_refused(seen_at: datetime) -> None:
    with pytest.raises(Unprocessable):
        check_seen_at(seen_at, **WINDOW)  # type: ignore[arg-type]
