"""The pure checks on unit-grid codes and GeoJSON features (no database)."""

from __future__ import annotations

from shapely.geometry import shape

from services.grid.regions.codes import Level, level_of, lineage, parent_of
from services.grid.regions.validation import MAX_OVERLAPS, find_overlaps, parse_features
from tests.grid.factories import box, collection, feature, small_territory


def test_level_and_parent_follow_from_the_code() -> None:
    assert level_of("350203") is Level.district
    assert level_of("350203001") is Level.subdistrict
    assert level_of("350203001001") is Level.community
    assert level_of("35020300100101") is Level.cell
    assert level_of("350203001001001") is Level.cell
    assert level_of("3502030") is None
    assert level_of("35020A") is None
    assert parent_of("350203001001001") == "350203001001"
    assert lineage("35020300100101") == ["35020300100101", "350203001001", "350203001", "350203"]


def test_features_come_sorted_parents_first() -> None:
    data = small_territory()
    data["features"].reverse()
    features, problems = parse_features(data)
    assert problems == []
    assert [f.code for f in features][:2] == ["350203", "350203001"]


def test_a_bowtie_is_explained() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    _, problems = parse_features(collection(feature("35020300100101", "x", bowtie)))
    assert problems[0]["code"] == "35020300100101"
    assert "Self-intersection" in problems[0]["problem"]


def test_shared_borders_are_not_overlaps_but_shared_area_is() -> None:
    left = shape(box(0, 0, 1, 1))
    right = shape(box(1, 0, 2, 1))
    assert find_overlaps([("a", left), ("b", right)], []) == []
    over = shape(box(0.5, 0, 1.5, 1))
    problems = find_overlaps([("c", over)], [("a", left), ("b", right)])
    assert {p["problem"].split()[4] for p in problems} == {"a", "b"}


def test_a_cell_replacing_itself_does_not_overlap_its_old_shape() -> None:
    cell = shape(box(0, 0, 1, 1))
    assert find_overlaps([("a", cell)], [("a", cell)]) == []


def test_cells_that_all_carry_one_polygon_are_named_up_to_a_limit() -> None:
    """Every two of 300 cells overlap: 44,850 pairs were listed (two million for 2,000 cells, after
    two minutes); the first hundred are named, and that there are more."""
    community = shape(box(118.0, 24.0, 118.02, 24.01))
    cells = [(f"350203001001{number:03d}", community) for number in range(1, 301)]
    problems = find_overlaps(cells, [])
    assert len(problems) == MAX_OVERLAPS + 1
    assert all(p["problem"].startswith("overlapping cells: overlaps cell") for p in problems[:-1])
    assert problems[-1] == {
        "code": None,
        "problem": f"overlapping cells: more than {MAX_OVERLAPS} pairs overlap",
    }
