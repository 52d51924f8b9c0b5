"""What locate and the territory export answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.grid.regions.schemas import RegionRef
from shared.schemas import ResponseModel


class Location(ResponseModel):
    """The cell holding a point and the regions above it."""

    cell: RegionRef
    community: RegionRef
    subdistrict: RegionRef
    district: RegionRef


class CellFeature(BaseModel):
    code: str = Field(examples=["35020300100101"])
    name: str = Field(examples=["镇海社区第1网格"])
    community_code: str = Field(examples=["350203001001"])
    community_name: str = Field(examples=["镇海社区"])
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon (WGS 84)")


class TerritoryCells(BaseModel):
    """Every grid cell with its geometry; ``version`` is also the response's ETag."""

    version: str = Field(examples=["3"])
    cells: list[CellFeature]
