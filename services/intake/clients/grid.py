"""intake's client for grid: the territory copy, the catalog Open311 clients choose from, and
whether the integrations' keys are still active, before delivering to their webhooks (intake
never calls grid per report)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.peer import PeerClient


class CellFeature(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    name: str
    community_code: str
    community_name: str
    geometry: dict[str, Any]


class TerritoryCells(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str
    cells: list[CellFeature]


class Category(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    name_zh: str
    name_en: str
    class_zh: str
    class_en: str


class KeyState(BaseModel):
    """grid's answer on an integration's API key (``GET /internal/v1/key-states``)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    state: Literal["active", "revoked", "expired", "unknown"]
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class GridClient(PeerClient):
    peer = "grid"

    async def territory_cells(self, *, version: str | None = None) -> TerritoryCells | None:
        """All cells with their geometry; ``None`` when grid's version is still ``version`` (304)."""
        headers = {"If-None-Match": f'"{version}"'} if version else {}
        response = await self.request("GET", "/v1/territory/cells", headers=headers)
        if response.status_code == 304:
            return None
        return TerritoryCells.model_validate(response.json())

    async def catalog(self, *, retired: bool = False) -> list[Category]:
        """Every category of the catalog in use (``retired``: every retired one instead), in
        code order (grid pages it by 100)."""
        params = {"retired": "true"} if retired else None
        return [Category.model_validate(item) for item in await self.all_items("/v1/catalog", params)]

    async def key_states(self, key_ids: Sequence[str]) -> list[KeyState]:
        """Whether each API key is active, revoked, expired or unknown to grid (at most 100)."""
        response = await self.request("GET", "/internal/v1/key-states", params=[("id", k) for k in key_ids])
        return [KeyState.model_validate(item) for item in response.json()["items"]]
