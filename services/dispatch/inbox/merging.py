"""Which open case a new report repeats: pure geometry, no database."""

from __future__ import annotations

import math
from collections.abc import Iterable

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """A lat/lon box that holds every point within ``radius_m`` (a cheap SQL pre-filter)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.01
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(180.0, dlat / cos_lat)
    return (lat - dlat, lat + dlat), (lon - dlon, lon + dlon)


def nearest_case(
    lat: float, lon: float, candidates: Iterable[tuple[int, float, float]], radius_m: float
) -> int | None:
    """The case whose report lies nearest, if one lies within ``radius_m``; ties go to the older case."""
    best: tuple[float, int] | None = None
    for case_id, c_lat, c_lon in candidates:
        distance = haversine_m(lat, lon, c_lat, c_lon)
        if distance <= radius_m and (best is None or (distance, case_id) < best):
            best = (distance, case_id)
    return best[1] if best else None
