"""Who is acting: the verified identity every route receives as ``CurrentActor``.

An :class:`Actor` is built from the claims of an access token that grid signed (see
:mod:`shared.auth`); routes never read tokens or headers themselves. Its ``regions`` are
the region codes a person is assigned to: a cell is in their scope when its unit-grid code
starts with one of them (a grid leader's community code covers all its cells).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from shared.regions import holds


class Role(StrEnum):
    grid_leader = "grid_leader"
    grid_worker = "grid_worker"
    grid_assistant = "grid_assistant"
    dispatcher = "dispatcher"
    handler = "handler"
    supervisor = "supervisor"
    admin = "admin"
    integration = "integration"
    service = "service"


GRID_ROLES = frozenset({Role.grid_leader, Role.grid_worker, Role.grid_assistant})
"""一长二员: the people who patrol the cells."""

SUBDISTRICT_ROLES = frozenset({Role.dispatcher, Role.supervisor, Role.admin})
"""Who sees the whole subdistrict."""


class Actor(BaseModel):
    id: str = Field(min_length=1, max_length=128, examples=["wang.fang"])
    role: Role = Field(examples=[Role.grid_worker])
    name: str | None = None
    department: str | None = None
    regions: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    channel: str | None = None

    def in_region(self, code: str | None) -> bool:
        """Whether one of the actor's regions holds ``code`` (:func:`shared.regions.holds`)."""
        return any(holds(region, code) for region in self.regions)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_service(self) -> bool:
        return self.role is Role.service

    @property
    def sees_subdistrict(self) -> bool:
        return self.role in SUBDISTRICT_ROLES

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Actor:
        return cls(
            id=claims["sub"],
            role=Role(claims["role"]),
            name=claims.get("name"),
            department=claims.get("department"),
            regions=list(claims.get("regions") or []),
            scopes=list(claims.get("scopes") or []),
            channel=claims.get("channel"),
        )

    def claims(self) -> dict[str, Any]:
        """The identity claims grid puts in a token for this actor (besides iss/aud/iat/exp/jti)."""
        return {
            "sub": self.id,
            "role": self.role.value,
            "name": self.name,
            "department": self.department,
            "regions": self.regions,
            "scopes": self.scopes,
            "channel": self.channel,
        }
