"""Regions as the API shows them, and the summary of an import."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from services.grid.regions.codes import Level
from shared.schemas import Page, ResponseModel


class RegionRef(ResponseModel):
    """A region without its geometry: what locate answers for each level."""

    code: str = Field(examples=["35020300100101"])
    name: str = Field(examples=["镇海社区第1网格"])
    level: Level = Field(examples=[Level.cell])
    parent_code: str | None = Field(examples=["350203001001"])


class RegionSummary(RegionRef):
    name_en: str | None = Field(default=None, examples=["Zhenhai grid 1"])
    retired_at: datetime | None = Field(
        default=None, description="when an import retired the region (`retire`); null while in use"
    )


class RegionDetail(RegionSummary):
    geometry: dict[str, Any] | None = Field(description="GeoJSON Polygon or MultiPolygon (WGS 84)")
    ancestors: list[RegionRef] = Field(description="parent first, up to the district")
    children: list[str] = Field(description="codes of the direct children, sorted")
    updated_at: datetime


RegionPage = Page[RegionSummary]


class ImportSummary(ResponseModel):
    """What an import changed; ``version`` is the territory version after it (the same as
    before when nothing changed)."""

    version: int = Field(examples=[3])
    created: int = Field(examples=[18])
    updated: int = Field(examples=[4])
    unchanged: int = Field(examples=[0], description="features stored already exactly as the file has them")
    retired: int = Field(
        default=0, examples=[0], description="regions retired: those `retire` names and everything under them"
    )
    by_level: dict[str, int] = Field(
        description="features in the file per level", examples=[{"community": 4, "cell": 16}]
    )
    assigned_to_retired: list[str] = Field(
        default_factory=list,
        examples=[[]],
        description="active staff (usernames) still assigned to a region this import retired: reassign them",
    )

    def __str__(self) -> str:
        levels = ", ".join(f"{count} {level}" for level, count in self.by_level.items())
        changes = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if self.retired:
            changes += f", {self.retired} retired"
        summary = f"territory version {self.version}: {changes} ({levels})"
        if self.assigned_to_retired:
            summary += f"; still assigned to a retired region: {', '.join(self.assigned_to_retired)}"
        return summary
