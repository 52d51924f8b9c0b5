"""Which grid cell holds a point: an STRtree over the cells' polygons (shapely)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.strtree import STRtree


class CellIndex:
    """Cells by unit-grid code; a point on a shared border goes to the smaller code."""

    def __init__(self, cells: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        pairs = sorted((code, shape(geometry)) for code, geometry in cells)
        self.codes = [code for code, _ in pairs]
        geometries = [geometry for _, geometry in pairs]
        for geometry in geometries:
            shapely.prepare(geometry)
        self._tree = STRtree(geometries)

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lat: float, lon: float) -> str | None:
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self.codes[int(hits.min())] if len(hits) else None
