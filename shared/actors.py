"""Who is acting: the seam through which identity enters every service.

Until verified identity lands, the caller names itself in two headers, ``X-Wangge-Actor``
(a staff username, ``service:<name>``, or an integration's id) and ``X-Wangge-Role``. Routes
never read those headers: they take the ``CurrentActor`` dependency from their service's
``deps.py``, which calls :func:`actor_from_request`, so only that one function changes when
tokens arrive.
"""

from __future__ import annotations

from enum import StrEnum

from fastapi import Request
from pydantic import BaseModel, Field

from shared.errors import Unauthorized, Unprocessable

ACTOR_HEADER = "X-Wangge-Actor"
ROLE_HEADER = "X-Wangge-Role"


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


class Actor(BaseModel):
    id: str = Field(min_length=1, max_length=64, examples=["wang.fang"])
    role: Role = Field(examples=[Role.grid_worker])

    def headers(self) -> dict[str, str]:
        return {ACTOR_HEADER: self.id, ROLE_HEADER: self.role.value}


def actor_from_request(request: Request) -> Actor:
    actor_id = request.headers.get(ACTOR_HEADER, "").strip()
    role = request.headers.get(ROLE_HEADER, "").strip()
    if not actor_id or not role:
        raise Unauthorized(f"name the actor in the {ACTOR_HEADER} and {ROLE_HEADER} headers")
    if len(actor_id) > 64:
        raise Unprocessable(f"{ACTOR_HEADER} is longer than 64 characters")
    try:
        return Actor(id=actor_id, role=Role(role))
    except ValueError as exc:
        raise Unprocessable(f"unknown role {role!r}") from exc
