"""dispatch's tables: cases (work orders), the reports joined to them, their timeline, the
intake photos the timeline names, the outbox.

A case's human number (``WG20261127-0007``) comes from ``case_number_counters``, one row per
day bumped with an atomic upsert, so two writers never draw the same number on either database.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    ColumnElement,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    cast,
    event,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import BigIntPK, JSONType, UTCDateTime, new_metadata, utcnow
from shared.idempotency import MAX_KEY_LENGTH
from shared.outbox import OutboxMixin

HANDLING_WITH_DEADLINE = "deadline_at IS NOT NULL AND status IN ('dispatched', 'in_progress')"
"""Cases that can fall overdue: a deadline, in the department's hands (``lifecycle.HANDLING``)."""


OPEN = "status IN ('triage', 'dispatched', 'in_progress', 'resolved')"
"""Cases not closed nor rejected: what the console's map shows by default (``cases/map.py``)."""


URGED = "urge_count > 0"
"""Cases urged at least once, by the office or by dispatch once overdue (督办件)."""


class Base(DeclarativeBase):
    metadata = new_metadata()


# The trigram indexes need pg_trgm; the migration creates it, and so does ``create_all``.
event.listen(
    Base.metadata,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)


def seen_day(seen_at: Any) -> ColumnElement[Any]:
    """The UTC day a report was seen (PostgreSQL): the second column of the merge look-up's
    index, written the same in the index and the query, or PostgreSQL does not use the index."""
    return cast(func.timezone(literal_column("'UTC'"), seen_at), Date)


def search_text(address: Any, description: Any) -> ColumnElement[str]:
    """What the console's text search looks in: the address, a space, the description (the
    same expression in the index and the query, or PostgreSQL does not use the index)."""
    return func.coalesce(address, literal_column("''")).concat(literal_column("' '")).concat(description)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_created_at_id", "created_at", "id"),
        Index("ix_cases_status_deadline_at", "status", "deadline_at"),
        # The console's overdue list: cases in a department's hands with a deadline, newest first.
        Index(
            "ix_cases_handling_deadline_created_at_id",
            "created_at",
            "id",
            "deadline_at",
            postgresql_where=text(HANDLING_WITH_DEADLINE),
            sqlite_where=text(HANDLING_WITH_DEADLINE),
        ),
        # The console's due list: the cases being handled, the soonest deadline first.
        Index(
            "ix_cases_handling_deadline_at_id",
            "deadline_at",
            "id",
            postgresql_where=text(HANDLING_WITH_DEADLINE),
            sqlite_where=text(HANDLING_WITH_DEADLINE),
        ),
        # The console's urged list: few cases, newest first.
        Index(
            "ix_cases_urged_created_at_id",
            "created_at",
            "id",
            postgresql_where=text(URGED),
            sqlite_where=text(URGED),
        ),
        # The console's map (``GET /v1/cases/map``): the open cases in the view, by latitude
        # band then longitude; at 200,000 cases (20,000 open) a 1 km² view read 1,552 pages
        # through it instead of the 7,996 of every open case (18 → 10 ms of PostgreSQL).
        Index(
            "ix_cases_open_lat_lon",
            "lat",
            "lon",
            postgresql_where=text(OPEN),
            sqlite_where=text(OPEN),
        ),
        # The console's text search (``q``, ILIKE '%…%'): trigram indexes on PostgreSQL
        # (the pg_trgm extension comes with the migration), plain ones on SQLite. The address
        # and the description are searched as one text (``search_text``): one index scan
        # instead of two, each as slow as the other (35 → 19 ms at 1,000,000 cases).
        Index(
            "ix_cases_search_trgm",
            search_text(literal_column("address"), literal_column("description")).label("search_text"),
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        Index(
            "ix_cases_case_number_trgm",
            "case_number",
            postgresql_using="gin",
            postgresql_ops={"case_number": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    category_code: Mapped[str | None] = mapped_column(String(64), index=True)
    category_name: Mapped[str | None] = mapped_column(String(200))
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    time_limit_hours: Mapped[int | None] = mapped_column(Integer)
    department_code: Mapped[str | None] = mapped_column(String(64), index=True)
    department_name: Mapped[str | None] = mapped_column(String(200))
    grid_cell: Mapped[str | None] = mapped_column(String(32), index=True)
    community: Mapped[str | None] = mapped_column(String(32), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the case falls due soon (预警): 80 % of the time it had until ``deadline_at`` gone."""
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    urge_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """times the office urged the department (督办), by hand or automatically once overdue"""
    auto_urged_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """the deadline the system urged the department for once it passed (超期自动督办,
    ``supervision/escalation.py``): a new deadline (an extension, a reassignment, a rework)
    differs from it, and the case is urged again once that one passes"""
    extension_requested_hours: Mapped[int | None] = mapped_column(Integer)
    """the hours more the department asked for, while the office has not answered (延期申请)"""
    report_count: Mapped[int] = mapped_column(Integer, default=1)
    rating: Mapped[int | None] = mapped_column(Integer)
    feedback_comment: Mapped[str | None] = mapped_column(String(1000))
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class CaseReport(Base):
    """A reporter's report joined to a case: the first opened it, later ones merged in."""

    __tablename__ = "case_reports"
    __table_args__ = (
        # The inbox's merge candidates: same category, inside a ~100 m box, inside the time
        # window. One index holds every condition. On PostgreSQL the scan is bounded by the
        # category, each UTC day the window touches, then the latitude range: by the time
        # alone it would read a whole window of one category (85–140 ms a batch of 200 at
        # 100,000 reports in half an hour), by the latitude alone every report of the category
        # ever seen in that band (57–79 ms at a year's 1,000,000 reports in a 3 km square),
        # by both 2–4 ms there and 24–25 ms in the dense half hour (the band alone: 20–23).
        # SQLite (one office's load) keeps the latitude band.
        Index(
            "ix_case_reports_nearby_day",
            "category",
            seen_day(literal_column("seen_at")),
            "lat",
            "lon",
            "seen_at",
        ).ddl_if(dialect="postgresql"),
        Index("ix_case_reports_nearby", "category", "lat", "lon", "seen_at").ddl_if(dialect="sqlite"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    report_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reporter_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(500))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    photos: Mapped[list[str]] = mapped_column(JSONType, default=list)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


KEYED = "idempotency_key IS NOT NULL"
"""Events written by a command that carried an ``Idempotency-Key``."""


class CaseEvent(Base):
    """One entry of a case's append-only timeline."""

    __tablename__ = "case_events"
    __table_args__ = (
        # A retry's look-up, and the guard against two events for one key (cases/idempotency.py).
        Index(
            "ux_case_events_idempotency_key",
            "case_id",
            "actor_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text(KEYED),
            sqlite_where=text(KEYED),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    photos: Mapped[list[str]] = mapped_column(JSONType, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(MAX_KEY_LENGTH))
    """The ``Idempotency-Key`` of the command that wrote the event, if it carried one."""
    request_hash: Mapped[str | None] = mapped_column(String(64))
    """That command's step and body, hashed: what a retry with the same key must match."""


class NamedPhoto(Base):
    """A photo kept by intake that a case's timeline names (a resolution's, a check's, a note's),
    written with the event: intake asks before it deletes the photos nothing named
    (``shared.photos``)."""

    __tablename__ = "named_photos"

    photo_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)


class CaseNumberCounter(Base):
    """The last case number drawn on each day (``YYYYMMDD``, UTC)."""

    __tablename__ = "case_number_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CalendarYear(Base):
    """A year of the office's working calendar as an admin last set it: its holidays and
    make-up working days are its :class:`CalendarDay` rows (the weekdays and hours are
    settings). A year never set has no row, and counts the settings' working weekdays."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(64))


class CalendarDay(Base):
    """A day the week's rule gets wrong: a ``holiday`` on a working weekday, or a make-up
    ``workday`` (调休) on a day off."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_years.year", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(64))


class OutboxMessage(OutboxMixin, Base):
    pass
