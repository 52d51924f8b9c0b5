"""intake's tables: reports, the status updates they heard, idempotency records, the local
copy of grid's territory, the outbox, the integrations' webhooks with their own outbox, and
the photos reporters and handlers upload, and which of them nothing names yet.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import BigIntPK, JSONType, UTCDateTime, new_metadata, utcnow
from shared.outbox import OutboxMixin

RECEIVED = "received"
"""A report's status until dispatch says otherwise; after that it mirrors the case status."""

CHANNEL_APP = "app"


class Base(DeclarativeBase):
    metadata = new_metadata()


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_reporter_received", "reporter_id", "received_at", "id"),
        # Each status dispatch sends rewrites the report's view (status, case, department,
        # deadline: no indexed column). With room left on the page the rewrite is HOT, with
        # no new entries in the two indexes: 63 % of them under load at 70, 3–4 % at the
        # default 100.
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    category: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(2000))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    located: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether the point was resolved against a loaded territory (outside it: located, no cell)."""
    grid_cell: Mapped[str | None] = mapped_column(String(16))
    community: Mapped[str | None] = mapped_column(String(16))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reporter_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32), default=CHANNEL_APP)
    """`app`, or the channel of the integration key that filed it (grid allows 32 characters)."""
    photos: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default=RECEIVED)
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    case_number: Mapped[str | None] = mapped_column(String(64))
    department_code: Mapped[str | None] = mapped_column(String(64))
    department_name: Mapped[str | None] = mapped_column(String(200))
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportEvent(Base):
    """A status message a report heard from dispatch, kept for the reporter's timeline."""

    __tablename__ = "report_events"
    __table_args__ = (UniqueConstraint("report_id", "event_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    report_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("reports.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """The answer given to one ``Idempotency-Key`` of one actor, replayed on a retry."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("actor_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TerritoryCell(Base):
    """intake's copy of one of grid's cells, so a report is located without calling grid."""

    __tablename__ = "territory_cells"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    community_code: Mapped[str] = mapped_column(String(16))
    community_name: Mapped[str] = mapped_column(String(200))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONType)


class TerritoryVersion(Base):
    """The one row naming the version of the cells copied (grid's ETag)."""

    __tablename__ = "territory_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(128))
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(OutboxMixin, Base):
    pass


class Webhook(Base):
    """Where an integration (a chat bot) is told of its reports' updates: one per integration."""

    __tablename__ = "webhooks"

    owner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The integration's actor id (``integration:<key id>``), the reporter of its reports."""
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(64))
    """``whsec_`` and base64: the key of the deliveries' signatures (Standard Webhooks)."""
    previous_secret: Mapped[str | None] = mapped_column(String(64))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """After a rotation, deliveries are signed with the secret before it too, until then: a bot
    still checking with the old one loses no update while it takes up the new."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    """Deliveries failed in a row: the endpoint's backoff grows with them."""
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """After a failure, no update is claimed for this endpoint before then: the endpoint backs
    off as a whole, so its updates keep their order and a down endpoint takes no one's turn."""


class WebhookMessage(OutboxMixin, Base):
    """The updates to deliver to webhooks, apart from the outbox to dispatch: an integration's
    endpoint that is slow or down delays only its own deliveries."""

    __tablename__ = "webhook_outbox"

    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    """Whose webhook it goes to (also in the payload, which the relay reads)."""


class Photo(Base):
    """A photo as intake keeps it: re-encoded as JPEG without the original's metadata, scaled to
    fit, with its thumbnail (``services/intake/photos/imaging.py``)."""

    __tablename__ = "photos"
    __table_args__ = (
        UniqueConstraint("uploader_id", "upload_sha256"),
        Index("ix_photos_uploader_id_created_at", "uploader_id", "created_at"),  # the daily limit
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    """Random, so a photo's URL cannot be guessed from another's."""
    uploader_id: Mapped[str] = mapped_column(String(64))
    upload_sha256: Mapped[str] = mapped_column(String(64))
    """Of the bytes uploaded: the same uploader's same upload again is the same photo."""
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    """Bytes of ``content``."""
    content: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnattachedPhoto(Base):
    """A photo no report names yet, nor (when intake last asked dispatch) a case's step. It is
    deleted once it has waited ``photo_unattached_days`` (``services/intake/photos/retention.py``);
    the report that names it deletes this row in its own transaction, and so does intake when
    dispatch answers that a step names it. The photos uploaded before this table came have none:
    they are kept."""

    __tablename__ = "unattached_photos"
    __table_args__ = (Index("ix_unattached_photos_uploaded_at", "uploaded_at"),)  # the oldest first

    photo_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True
    )
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """When it was uploaded, or uploaded again (its uploader's same bytes): its wait starts then."""
