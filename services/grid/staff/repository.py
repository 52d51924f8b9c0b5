"""Queries on staff and their grid assignments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Select, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import Staff, StaffAssignment
from services.grid.regions.codes import lineage
from shared.regions import held_by


async def get_by_username(session: AsyncSession, username: str, *, for_update: bool = False) -> Staff | None:
    """The row, or None; ``for_update`` locks it until the transaction ends (PostgreSQL: a
    change checks ``If-Match`` against the version it then writes over, never a stale one)."""
    query = select(Staff).where(Staff.username == username)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


def can_sign_in() -> ColumnElement[bool]:
    """Staff who can sign in: active, with a password. A password is the only way staff sign in
    (API keys are integrations', tied to no person), so one without it reads and does nothing."""
    return and_(Staff.active.is_(True), Staff.password_hash.is_not(None))


async def active_admins(session: AsyncSession, *, lock: bool = False) -> Sequence[Staff]:
    """The admins who can sign in (:func:`can_sign_in`), in id order; ``lock``: locked until
    the transaction ends."""
    query = select(Staff).where(Staff.role == "admin", can_sign_in()).order_by(Staff.id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).all()


async def region_codes(session: AsyncSession, staff_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = sorted(set(staff_ids))
    found: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return found
    rows = await session.execute(
        select(StaffAssignment.staff_id, StaffAssignment.region_code)
        .where(StaffAssignment.staff_id.in_(ids))
        .order_by(StaffAssignment.region_code)
    )
    for staff_id, code in rows:
        found[staff_id].append(code)
    return found


async def replace_assignments(session: AsyncSession, staff_id: int, codes: Sequence[str]) -> None:
    """``codes`` as the schemas give them: each once (``staff.schemas.RegionCodes``)."""
    await session.execute(delete(StaffAssignment).where(StaffAssignment.staff_id == staff_id))
    session.add_all(StaffAssignment(staff_id=staff_id, region_code=code) for code in codes)
    await session.flush()


def list_statement(*, role: str | None, department: str | None, region: str | None) -> Select[Staff]:
    statement = select(Staff)
    if role is not None:
        statement = statement.where(Staff.role == role)
    if department is not None:
        statement = statement.where(Staff.department_code == department)
    if region is not None:
        # Staff working in the region: assigned to it, to a region inside it, or to one around it.
        assigned = select(StaffAssignment.staff_id).where(
            or_(
                held_by(StaffAssignment.region_code, region),
                StaffAssignment.region_code.in_(lineage(region)),
            )
        )
        statement = statement.where(Staff.id.in_(assigned))
    return statement
