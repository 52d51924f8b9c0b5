"""Merge geometry, without a database."""

from __future__ import annotations

from services.dispatch.inbox.merging import bounding_box, haversine_m, nearest_case


def test_haversine_of_known_distances() -> None:
    assert haversine_m(24.455, 118.08, 24.455, 118.08) == 0
    assert 110 < haversine_m(24.455, 118.08, 24.456, 118.08) < 112  # 0.001° of latitude ≈ 111 m


def test_the_box_holds_every_point_within_the_radius() -> None:
    (lat_lo, lat_hi), (lon_lo, lon_hi) = bounding_box(24.455, 118.08, 50)
    for lat, lon in [(24.455 + 0.00044, 118.08), (24.455, 118.08 - 0.00049)]:
        assert haversine_m(24.455, 118.08, lat, lon) < 50
        assert lat_lo <= lat <= lat_hi and lon_lo <= lon <= lon_hi


def test_nearest_case_within_the_radius_wins() -> None:
    candidates = [(1, 24.4553, 118.08), (2, 24.4551, 118.08), (3, 24.46, 118.08)]
    assert nearest_case(24.455, 118.08, candidates, 50) == 2
    assert nearest_case(24.455, 118.08, [(3, 24.46, 118.08)], 50) is None
