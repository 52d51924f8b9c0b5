"""Which grid cell holds a point.

The point-in-polygon test is shapely's (GEOS, on prepared polygons). Finding the few cells
worth testing is a uniform bucket grid over the territory's bounding box, each bucket listing
the cells whose bounding box touches it, plus a bounding-box check in plain Python: an
``STRtree`` query needs a shapely ``Point`` per lookup, and building that point cost two
thirds of each lookup (measured: 27,000 lookups/s with the tree, see the README's figures).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import shapely
from shapely.geometry import shape

try:  # the ufunc behind shapely.intersects_xy, without its per-call argument handling (half the cost)
    from shapely.lib import intersects_xy
except ImportError:  # pragma: no cover - a shapely that moved it
    from shapely import intersects_xy


class CellIndex:
    """Cells by unit-grid code; a point on a shared border goes to the smaller code."""

    def __init__(
        self, cells: Iterable[tuple[str, Mapping[str, Any]]], *, cells_per_bucket: float = 1.0
    ) -> None:
        pairs = sorted((code, shape(geometry)) for code, geometry in cells)
        self.codes = [code for code, _ in pairs]
        self._geometries = [geometry for _, geometry in pairs]
        for geometry in self._geometries:
            shapely.prepare(geometry)
        self._bounds = [geometry.bounds for geometry in self._geometries]
        self._buckets: dict[tuple[int, int], list[int]] = {}
        if not pairs:
            self._origin, self._step, self._size = (0.0, 0.0), (1.0, 1.0), (0, 0)
            return
        min_x = min(b[0] for b in self._bounds)
        min_y = min(b[1] for b in self._bounds)
        max_x = max(b[2] for b in self._bounds)
        max_y = max(b[3] for b in self._bounds)
        side = max(1, math.ceil(math.sqrt(len(pairs) / cells_per_bucket)))
        self._origin = (min_x, min_y)
        self._step = ((max_x - min_x) / side or 1.0, (max_y - min_y) / side or 1.0)
        self._size = (side, side)
        for index, (x0, y0, x1, y1) in enumerate(self._bounds):
            (i0, j0), (i1, j1) = self._bucket(x0, y0), self._bucket(x1, y1)
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    self._buckets.setdefault((i, j), []).append(index)  # ascending: smaller code first

    def __len__(self) -> int:
        return len(self.codes)

    def _bucket(self, x: float, y: float) -> tuple[int, int]:
        i = min(int((x - self._origin[0]) / self._step[0]), self._size[0] - 1)
        j = min(int((y - self._origin[1]) / self._step[1]), self._size[1] - 1)
        return i, j

    def locate(self, lat: float, lon: float) -> str | None:
        if not self._buckets or lon < self._origin[0] or lat < self._origin[1]:
            return None
        i, j = self._bucket(lon, lat)
        for index in self._buckets.get((i, j), ()):
            x0, y0, x1, y1 = self._bounds[index]
            if x0 <= lon <= x1 and y0 <= lat <= y1 and intersects_xy(self._geometries[index], lon, lat):
                return self.codes[index]
        return None
