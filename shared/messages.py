"""The wire contracts of the messages that cross between services through the outboxes.

``report.received`` goes from intake to dispatch; ``case.status_changed`` from dispatch back
to intake. Both ride in an :class:`InboxBatch` posted to the receiver's ``/internal/v1/inbox``,
which answers with one :class:`InboxResult` per message. Receivers are idempotent: a message
delivered twice has the effect of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, Field

from shared.schemas import RequestModel

REPORT_RECEIVED = "report.received"
CASE_STATUS_CHANGED = "case.status_changed"

MAX_BATCH = 500


class ReportReceived(BaseModel):
    report_id: UUID
    category: str | None
    description: str
    lat: float
    lon: float
    address: str | None = None
    grid_cell: str | None = Field(description="unit-grid code of the cell, null when outside the territory")
    community: str | None = None
    seen_at: datetime
    received_at: datetime
    reporter_id: str
    channel: str
    photos: list[str] = Field(default_factory=list)


class CaseStatusChanged(BaseModel):
    event_id: int
    case_id: int
    case_number: str
    action: str
    status: str
    department_code: str | None = None
    department_name: str | None = None
    note: str | None = None
    """The note every reporter of the case reads (the office's, a handler's, the system's)."""
    author_id: str | None = None
    author_note: str | None = None
    """A note only its author reads among the reporters (a grid worker's on her check, a
    reporter's with her rating): shown on the reports ``author_id`` filed, and no other."""
    deadline_at: datetime | None = None
    occurred_at: datetime
    report_ids: list[UUID]


class InboxMessage(RequestModel):
    topic: Literal["report.received", "case.status_changed"]
    key: str = Field(max_length=64)
    payload: dict[str, Any]


class InboxBatch(RequestModel):
    messages: list[InboxMessage] = Field(min_length=1, max_length=MAX_BATCH)


Outbound = tuple[str, str, Mapping[str, Any]]
"""A message a relay sends: (topic, key, payload), as its outbox holds it."""


INBOX_BODY_BYTES = 512 * 1024
"""The largest inbox request a relay sends, half of every service's default
``max_body_bytes`` (1 MiB). A message is at most a few kilobytes (the contracts bound every
string), so a batch of the largest ones is split into several requests instead of being
refused with 413 on every retry; a receiver set to take less gets smaller requests
(:meth:`shared.peer.PeerClient.post_inbox`)."""


def inbox_bodies(messages: Sequence[Outbound], max_bytes: int = INBOX_BODY_BYTES) -> list[tuple[int, bytes]]:
    """``messages`` as :class:`InboxBatch` JSON bodies, in order: (how many messages, body) each.

    A body holds at most ``MAX_BATCH`` messages and ``max_bytes`` bytes (a single message
    larger than that goes alone: the receiver's answer is then what it is). A relay sends what
    its own outbox holds, valid since it was written, so orjson writes it: building the
    pydantic models and dumping them cost 10.6 µs a message, orjson 0.26 µs. The receiver
    validates the batch as it validates any request.
    """
    head, tail = b'{"messages":[', b"]}"
    bodies: list[tuple[int, bytes]] = []
    parts: list[bytes] = []
    size = len(head) + len(tail)
    for topic, key, payload in messages:
        part = orjson.dumps({"topic": topic, "key": key, "payload": payload})
        if parts and (len(parts) == MAX_BATCH or size + 1 + len(part) > max_bytes):
            bodies.append((len(parts), head + b",".join(parts) + tail))
            parts, size = [], len(head) + len(tail)
        parts.append(part)
        size += len(part) + (1 if len(parts) > 1 else 0)
    if parts:
        bodies.append((len(parts), head + b",".join(parts) + tail))
    return bodies


class InboxStatus(StrEnum):
    accepted = "accepted"
    duplicate = "duplicate"
    rejected = "rejected"


class InboxResult(BaseModel):
    key: str
    status: InboxStatus
    detail: str | None = None


class InboxReply(BaseModel):
    results: list[InboxResult]
