"""grid's tables: the region tree, the territory version, departments, the responsibility
catalog, routing overrides, staff with their grid assignments, the grid workers' daily logs
(民情日志), and identity (refresh tokens, API keys).

Codes are the natural keys (unit-grid codes, department codes, category codes): other
services store them, so they never change once created.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import BigIntPK, JSONType, UTCDateTime, new_metadata, utcnow


class Base(DeclarativeBase):
    metadata = new_metadata()


class Region(Base):
    """A district, subdistrict, community or grid cell; ``level`` follows from the code's length."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when an import retired the region (a re-division drew it anew): no longer located,
    exported or assigned, but kept, since cases and people still name it."""


class Territory(Base):
    """One row: the territory version, bumped by every import (readers rebuild their indexes)."""

    __tablename__ = "territory"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when an admin retired the department (merged into another, reorganised): no longer
    listed, dispatched to or given categories, overrides or handlers, but kept, since cases name it."""
    retired_by: Mapped[str | None] = mapped_column(String(64))


class Category(Base):
    """An entry of the responsibility catalog (权责清单); no department means a dispatcher decides."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128))
    class_zh: Mapped[str] = mapped_column(String(32), index=True)
    class_en: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    urgency: Mapped[str] = mapped_column(String(16))
    time_limit_hours: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when an admin retired the category (dropped or merged in a revision of the catalog): no
    longer listed or routed (a report naming it waits in triage), but kept, since cases name it."""
    retired_by: Mapped[str | None] = mapped_column(String(64))


class RoutingOverride(Base):
    """In ``region_code`` and below, ``category_code`` goes to ``department_code``."""

    __tablename__ = "routing_overrides"
    __table_args__ = (UniqueConstraint("region_code", "category_code", name="uq_routing_overrides_pair"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32), index=True)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Argon2id PHC string; null: the person cannot log in until a password is set.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


class StaffAssignment(Base):
    """A staff member works in a region: cells for grid workers and assistants, a community for a leader."""

    __tablename__ = "staff_assignments"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True, index=True)


class PatrolLog(Base):
    """A grid worker's daily log (民情日志) of one of their cells for one office day: what they
    patrolled and found, the residents' concerns they heard, the households they visited.
    One per author, cell and day (``services/grid/logbook``)."""

    __tablename__ = "patrol_logs"
    __table_args__ = (
        UniqueConstraint("author", "day", "grid_cell", name="uq_patrol_logs_author_day_cell"),
        Index("ix_patrol_logs_day_id", "day", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    author: Mapped[str] = mapped_column(String(64))
    """The staff member's username (usernames never change)."""
    day: Mapped[date] = mapped_column(Date)
    """The office day (``WANGGE_GRID_TIMEZONE``) the entry is for."""
    grid_cell: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    patrol: Mapped[str] = mapped_column(String(2000))
    concerns: Mapped[list[str]] = mapped_column(JSONType)
    households_visited: Mapped[int] = mapped_column(Integer)
    report_ids: Mapped[list[str]] = mapped_column(JSONType)
    """Intake's ids of reports the author filed that day, as the author named them: references
    only, never checked against intake."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RefreshToken(Base):
    """A refresh token, stored as the SHA-256 of its random value.

    Each login starts a family; every refresh spends its token (``used_at``) and adds the
    next one to the family. Presenting a spent token again revokes the whole family, but for
    the token just spent, within seconds of its spending (the reuse window, ``identity/service.py``).
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[UUID] = mapped_column(Uuid, index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parent_id: Mapped[int | None] = mapped_column(BigIntPK)
    """The token spent to issue this one; none for a login's first. Read only within a family
    (found by ``family_id``), so neither a foreign key nor an index of its own."""


class SignInFailure(Base):
    """Failed password sign-ins of one username, known or not (``identity/lockout.py``): after
    too many in a row the username is locked for a while, whatever password comes next."""

    __tablename__ = "sign_in_failures"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    """As typed, lower case and trimmed: the form the sign-in looks up."""
    failures: Mapped[int] = mapped_column(Integer)
    """In a row, none more than ``lockout.FORGOTTEN_AFTER`` after the one before."""
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """An integration's key, shown once as ``<id>.<secret>``; only the secret's SHA-256 is kept."""

    __tablename__ = "api_keys"
    __table_args__ = (
        # one key per admin and Idempotency-Key (keys created without one: any number)
        Index("uq_api_keys_created_by_idempotency_key", "created_by", "idempotency_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    """The ``Idempotency-Key`` it was created with, if any: a retry with it is told of this key."""
