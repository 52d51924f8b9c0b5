"""grid's own errors, beside the shared hierarchy."""

from __future__ import annotations

from shared.errors import NotFound, Unprocessable


class OutsideTerritory(NotFound):
    """The point lies in no grid cell of the territory."""

    type, title = "outside-territory", "Outside the territory"


class TerritoryRejected(Unprocessable):
    """An import was refused as a whole; ``errors`` lists ``{"code", "problem"}`` per feature."""

    type, title = "invalid-territory", "Territory import refused"
