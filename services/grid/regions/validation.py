"""Checks on a GeoJSON FeatureCollection of regions before anything is written.

Pure functions over shapely geometries: :func:`parse_features` turns the document into
:class:`RegionFeature` objects and problems, :func:`find_overlaps` finds cells that overlap.
A problem is ``{"code": <feature code or null>, "problem": <text>}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.errors import GEOSException
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree
from shapely.validation import explain_validity

from services.grid.regions.codes import LEVEL_RANK, Level, level_of, parent_of
from shared.schemas import unstorable

OVERLAP_TOLERANCE = 1e-10
"""Square degrees (about 1 m² at the latitude of Xiamen): smaller intersections are shared borders."""
MAX_OVERLAPS = 100
"""Overlapping pairs named before the check stops: a file whose cells all carry one polygon (their
community's, their district's) has a pair for every two cells, and 2,000 such cells took two
minutes to list two million pairs in one answer."""

MAX_RETIRED = 10_000
"""Codes one file's ``retire`` may name (each retires its region and everything under it)."""

MAX_NAME = 64
MAX_NAME_EN = 128
POLYGON_TYPES = ("Polygon", "MultiPolygon")
POSITION_DEPTH = {"Polygon": 3, "MultiPolygon": 4}
"""How many lists deep a geometry's numbers lie: rings of positions, polygons of rings."""

Problem = dict[str, Any]


@dataclass(frozen=True)
class RegionFeature:
    index: int
    code: str
    level: Level
    parent_code: str | None
    name: str
    name_en: str | None
    geometry: BaseGeometry | None

    def geojson(self) -> dict[str, Any] | None:
        if self.geometry is None:
            return None
        geojson: dict[str, Any] = json.loads(shapely.to_geojson(self.geometry))
        return geojson


def problem(code: Any, text: str, index: int | None = None) -> Problem:
    found: Problem = {"code": code if isinstance(code, str) else None, "problem": text}
    if index is not None:
        found["feature"] = index
    return found


def parse_features(data: Any) -> tuple[list[RegionFeature], list[Problem]]:
    """The features of ``data`` sorted parents first, and every problem found in them."""
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        return [], [problem(None, "invalid GeoJSON: the document is not a FeatureCollection")]
    raw_features = data.get("features")
    if not isinstance(raw_features, list) or not (raw_features or data.get("retire")):
        return [], [problem(None, "invalid GeoJSON: `features` must be a non-empty list (or `retire` given)")]
    features: list[RegionFeature] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_features):
        feature, found = _parse_feature(index, raw)
        problems.extend(found)
        if feature is None:
            continue
        if feature.code in seen:
            problems.append(problem(feature.code, "the code appears more than once in the file", index))
            continue
        seen.add(feature.code)
        features.append(feature)
    features.sort(key=lambda f: (LEVEL_RANK[f.level], f.code))
    return features, problems


def parse_retirements(data: Mapping[str, Any]) -> tuple[set[str], list[Problem]]:
    """The codes of the file's ``retire`` member (a foreign member of the FeatureCollection):
    regions a re-division replaces, retired in the same transaction as the file's features."""
    raw = data.get("retire", [])
    if not isinstance(raw, list) or len(raw) > MAX_RETIRED:
        return set(), [problem(None, f"`retire` must be a list of at most {MAX_RETIRED} region codes")]
    codes: set[str] = set()
    problems: list[Problem] = []
    for code in raw:
        if not isinstance(code, str) or level_of(code) is None:
            shown = code if isinstance(code, str) else None
            problems.append(
                problem(shown, f"bad code in `retire`: {str(code)[:20]!r} is not a unit-grid code")
            )
        else:
            codes.add(code)
    return codes, problems


def _parse_feature(index: int, raw: Any) -> tuple[RegionFeature | None, list[Problem]]:
    if not isinstance(raw, Mapping) or raw.get("type") != "Feature":
        return None, [problem(None, f"invalid GeoJSON: feature {index} is not a Feature", index)]
    properties = raw.get("properties")
    if not isinstance(properties, Mapping):
        return None, [problem(None, f"invalid GeoJSON: feature {index} has no properties", index)]
    code = properties.get("code")
    if not isinstance(code, str):
        return None, [problem(None, f"bad code: feature {index} has no string property `code`", index)]
    level = level_of(code)
    if level is None:
        return None, [problem(code, "bad code: a unit-grid code is 6, 9, 12, 14 or 15 digits", index)]
    problems: list[Problem] = []
    name = properties.get("name")
    name_en = properties.get("name_en")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        problems.append(problem(code, f"`name` must be a string of 1 to {MAX_NAME} characters", index))
    if name_en is not None and (not isinstance(name_en, str) or len(name_en.strip()) > MAX_NAME_EN):
        problems.append(
            problem(code, f"`name_en` must be a string of at most {MAX_NAME_EN} characters", index)
        )
    for field, text in (("name", name), ("name_en", name_en)):
        reason = unstorable(text) if isinstance(text, str) else None
        if reason:
            problems.append(problem(code, f"`{field}` {reason}", index))
    geometry, found = _parse_geometry(code, index, raw.get("geometry"), required=level is Level.cell)
    problems.extend(found)
    if problems:
        return None, problems
    assert isinstance(name, str)
    return (
        RegionFeature(
            index=index,
            code=code,
            level=level,
            parent_code=parent_of(code),
            name=name.strip(),
            name_en=name_en.strip() if isinstance(name_en, str) and name_en.strip() else None,
            geometry=geometry,
        ),
        [],
    )


def _parse_geometry(
    code: str, index: int, raw: Any, *, required: bool
) -> tuple[BaseGeometry | None, list[Problem]]:
    if raw is None:
        return None, [
            problem(code, "invalid geometry: a grid cell needs a polygon", index)
        ] if required else []
    if not isinstance(raw, Mapping) or raw.get("type") not in POLYGON_TYPES:
        return None, [problem(code, "invalid GeoJSON: the geometry must be a Polygon or MultiPolygon", index)]
    if not _positions_only(raw.get("coordinates"), depth=POSITION_DEPTH[raw["type"]]):
        return None, [
            problem(code, f"invalid GeoJSON: a {raw['type']}'s coordinates are numbers in positions", index)
        ]
    polygons = raw["coordinates"] if raw["type"] == "MultiPolygon" else [raw["coordinates"]]
    if any(ring and ring[0] != ring[-1] for polygon in polygons for ring in polygon):
        return None, [
            problem(code, "invalid GeoJSON: a ring must end at the position it starts from", index)
        ]  # RFC 7946 3.1.6; shapely would close it silently
    try:
        geometry = shape(raw)
        bounds = geometry.bounds
    except (GEOSException, ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError) as exc:
        return None, [problem(code, f"invalid GeoJSON: unreadable coordinates ({exc})", index)]
    if geometry.is_empty:
        return None, [problem(code, "invalid geometry: the polygon is empty", index)]
    min_lon, min_lat, max_lon, max_lat = bounds
    if not all(map(_finite, bounds)) or min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        return None, [
            problem(
                code,
                "coordinates out of range: longitude must be in [-180, 180], latitude in [-90, 90]",
                index,
            )
        ]
    if not geometry.is_valid:
        return None, [problem(code, f"invalid geometry: {explain_validity(geometry)}", index)]
    return geometry, []


def _positions_only(coordinates: Any, *, depth: int) -> bool:
    """Whether the nested lists hold finite JSON numbers exactly ``depth`` lists deep and nothing
    else: shapely would read ``"0"`` and ``true`` as numbers, and recurse as deep as it is given.
    An altitude of ``NaN`` or ``Infinity`` (or ``1e999``, which reads as infinity) escapes the
    checks on the plane: shapely wrote it back as a ring of mixed dimensions or a ``null``, and
    every ``locate`` failed on the stored cell (a 500) until the cell was imported again."""
    stack = [(coordinates, 0)]
    while stack:
        item, level = stack.pop()
        if level < depth:
            if not isinstance(item, list):
                return False
            stack.extend((child, level + 1) for child in item)
        elif isinstance(item, bool) or not isinstance(item, int | float) or not _finite(item):
            return False
    return True


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def find_overlaps(
    new_cells: Sequence[tuple[str, BaseGeometry]],
    existing_cells: Iterable[tuple[str, BaseGeometry]],
    *,
    tolerance: float = OVERLAP_TOLERANCE,
    limit: int = MAX_OVERLAPS,
) -> list[Problem]:
    """Pairs of cells whose intersection is larger than ``tolerance``: new with new, new with
    existing; the first ``limit`` pairs, and then one problem saying that there are more."""
    new_codes = {code for code, _ in new_cells}
    others = [(code, geometry) for code, geometry in existing_cells if code not in new_codes]
    everything = [*new_cells, *others]
    if not new_cells:
        return []
    tree = STRtree([geometry for _, geometry in everything])
    problems: list[Problem] = []
    for i, (code, geometry) in enumerate(new_cells):
        for j in sorted(int(hit) for hit in tree.query(geometry, predicate="intersects")):
            if j == i or (j < len(new_cells) and j < i):
                continue
            other_code, other = everything[j]
            area = shapely.intersection(geometry, other).area
            if area > tolerance:
                if len(problems) == limit:
                    problems.append(problem(None, f"overlapping cells: more than {limit} pairs overlap"))
                    return problems
                problems.append(
                    problem(code, f"overlapping cells: overlaps cell {other_code} ({area:.3g} deg²)")
                )
    return problems
