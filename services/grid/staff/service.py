"""Staff accounts and their grid assignments.

Passwords and tokens belong to the identity feature (``services.grid.identity``), which
looks people up by ``username``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.departments import repository as departments
from services.grid.identity import lockout
from services.grid.identity import repository as tokens
from services.grid.models import Staff
from services.grid.pagination import keyset_page
from services.grid.regions import repository as regions
from services.grid.regions.codes import Level
from services.grid.staff import repository
from services.grid.staff.rules import StaffRole, assignment_problem, department_problem
from services.grid.staff.schemas import (
    AssignmentsSet,
    StaffChanged,
    StaffCreate,
    StaffPage,
    StaffRead,
    StaffUpdate,
)
from shared.db import flush_new, utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.etags import require_if_match

log = logging.getLogger("wangge.grid.staff")


async def _reads(
    session: AsyncSession, rows: Sequence[Staff], codes: dict[int, list[str]]
) -> list[StaffRead]:
    """The staff as read, with whether each is locked out of signing in now."""
    locked = await lockout.locks(session, [s.username for s in rows], utcnow())
    return [_read(s, codes.get(s.id, []), locked.get(s.username)) for s in rows]


def _read(staff: Staff, codes: Sequence[str], locked_until: datetime | None = None) -> StaffRead:
    return StaffRead(
        username=staff.username,
        name=staff.name,
        role=StaffRole(staff.role),
        department_code=staff.department_code,
        phone=staff.phone,
        active=staff.active,
        region_codes=sorted(codes),
        has_password=staff.password_hash is not None,
        sign_in_locked_until=locked_until,
        created_at=staff.created_at,
        updated_at=staff.updated_at,
    )


async def _get(session: AsyncSession, username: str, *, for_update: bool = False) -> Staff:
    staff = await repository.get_by_username(session, username, for_update=for_update)
    if staff is None:
        raise NotFound(f"no staff member {username!r}")
    return staff


async def get_staff(session: AsyncSession, *, username: str) -> tuple[StaffRead, int]:
    """The staff member and the version their ETag names."""
    staff = await _get(session, username)
    codes = await repository.region_codes(session, [staff.id])
    [read] = await _reads(session, [staff], codes)
    return read, staff.version


async def list_staff(
    session: AsyncSession,
    *,
    role: StaffRole | None,
    department: str | None,
    region: str | None,
    limit: int,
    cursor: str | None,
) -> StaffPage:
    statement = repository.list_statement(
        role=role.value if role else None, department=department, region=region
    )
    rows, next_cursor = await keyset_page(session, statement, key=Staff.username, limit=limit, cursor=cursor)
    codes = await repository.region_codes(session, [s.id for s in rows])
    return StaffPage(items=await _reads(session, rows, codes), next_cursor=next_cursor)


async def _check_department(
    session: AsyncSession, role: StaffRole, department_code: str | None, *, kept: bool = False
) -> None:
    """422 unless ``department_code`` suits ``role`` and names a department in use; ``kept``:
    the person's department as it is, which may have been retired since."""
    found = department_problem(role, department_code)
    if found:
        raise Unprocessable(found, field="department_code")
    department = await departments.get(session, department_code) if department_code is not None else None
    if department_code is not None and department is None:
        raise Unprocessable(f"no department {department_code!r}", field="department_code")
    if department is not None and department.retired_at is not None and not kept:
        raise Unprocessable(f"department {department_code!r} is retired", field="department_code")


async def _check_assignments(
    session: AsyncSession, role: StaffRole, codes: Sequence[str], *, kept: bool = False
) -> None:
    """422 unless ``codes`` suit ``role`` and name regions in use; ``kept``: the person's
    assignments as they are (a role or detail changed), which may name a region retired since."""
    stored = await regions.get_many(session, codes)
    unknown = sorted(set(codes) - set(stored))
    if unknown:
        raise Unprocessable(f"no region {', '.join(unknown)}", field="region_codes")
    retired = sorted(code for code, region in stored.items() if region.retired_at is not None)
    if retired and not kept:
        raise Unprocessable(f"region {', '.join(retired)} is retired", field="region_codes")
    found = assignment_problem(role, {code: Level(region.level) for code, region in stored.items()})
    if found:
        raise Unprocessable(found, field="region_codes")


async def create_staff(session: AsyncSession, *, data: StaffCreate, actor_id: str) -> tuple[StaffRead, int]:
    if await repository.get_by_username(session, data.username) is not None:
        raise Conflict(f"username {data.username!r} is taken")
    await _check_department(session, data.role, data.department_code)
    await _check_assignments(session, data.role, data.region_codes)
    now = utcnow()
    staff = Staff(
        **data.model_dump(mode="json", exclude={"region_codes"}),
        version=1,
        created_at=now,
        updated_at=now,
        updated_by=actor_id,
    )
    session.add(staff)
    if not await flush_new(session):  # created by a concurrent request
        raise Conflict(f"username {data.username!r} is taken")
    await repository.replace_assignments(session, staff.id, data.region_codes)
    return _read(staff, data.region_codes), staff.version


async def update_staff(
    session: AsyncSession, *, username: str, data: StaffUpdate, if_match: str | None, actor_id: str
) -> tuple[StaffChanged, int]:
    """The person as changed, with a warning for a department the change leaves with no
    active handler who can sign in: the change goes through (an office mid-reorganisation),
    but says so."""
    changes = data.model_dump(mode="json", exclude_unset=True)
    # The admins first, then the person (in that order in every change): two admins removing
    # each other wait for one another instead of deadlocking.
    admins = await repository.active_admins(session, lock=True) if changes.keys() & {"role", "active"} else []
    staff = await _get(session, username, for_update=True)
    require_if_match(if_match, staff.version)
    signs_in = staff.password_hash is not None  # a password is set elsewhere, never here
    handled = _handled_department(staff.role, staff.department_code, staff.active, signs_in)
    role = StaffRole(changes.get("role", staff.role))
    department_code = changes.get("department_code", staff.department_code)
    if "role" in changes and role is not StaffRole.handler and "department_code" not in changes:
        department_code = None
    await _check_department(session, role, department_code, kept=department_code == staff.department_code)
    codes = (await repository.region_codes(session, [staff.id])).get(staff.id, [])
    await _check_assignments(session, role, codes, kept=True)
    stays_admin = role is StaffRole.admin and changes.get("active", True)
    if staff in admins and not stays_admin:
        _keep_an_admin(staff, admins)
    for field in ("name", "phone", "active"):
        if field in changes:
            setattr(staff, field, changes[field])
    staff.role = role.value
    staff.department_code = department_code
    staff.version += 1
    staff.updated_at = utcnow()
    staff.updated_by = actor_id
    if changes.get("active") is False:
        # Deactivating ends every login: refused while inactive, a refresh token lost with a
        # phone came back to life when the person was made active again.
        await tokens.revoke_all_of_staff(session, staff.id, staff.updated_at)
    await session.flush()
    left = (
        handled
        if handled != _handled_department(staff.role, staff.department_code, staff.active, signs_in)
        else None
    )
    warnings = []
    if left is not None and (unstaffed := await _unstaffed(session, left)):
        log.warning("staff %s changed by %s: %s", staff.username, actor_id, unstaffed)
        warnings.append(unstaffed)
    [read] = await _reads(session, [staff], {staff.id: codes})
    return StaffChanged(**read.model_dump(), warnings=warnings), staff.version


def _handled_department(role: str, department_code: str | None, active: bool, signs_in: bool) -> str | None:
    """The department whose cases the person sees as its handler, if any: one with no password
    yet sees none, so a change to them takes no handler from it."""
    return department_code if role == StaffRole.handler and active and signs_in else None


async def _unstaffed(session: AsyncSession, code: str) -> str | None:
    """The warning that the department ``code``, which a handler just left, has no active
    handler who can sign in left (``departments.active_handlers``), if so. The department is
    locked until the change commits, so two changes taking its last two handlers away at once
    are counted one after the other: on PostgreSQL
    the second waits for the first to commit, then counts without it and warns (unlocked,
    each counted the other as staying and neither warned)."""
    department = await departments.lock_staffing(session, code)
    if department is None or (await departments.active_handlers(session, [code]))[code]:
        return None
    return (
        f"department {code} ({department.name_zh}) now has no active handler who can sign in: "
        "cases routed to it will wait unseen until one is assigned or given a password"
    )


def _keep_an_admin(leaving: Staff, admins: Sequence[Staff]) -> None:
    """409 unless another admin who can sign in remains once ``leaving`` is no longer one
    (``admins``, locked until the change commits): with none, only the CLI on the server could
    manage staff, keys and the territory again."""
    if not [admin for admin in admins if admin.id != leaving.id]:
        raise Conflict(
            f"{leaving.username} is the last active admin who can sign in; make another admin first"
        )


async def set_assignments(
    session: AsyncSession, *, username: str, data: AssignmentsSet, actor_id: str
) -> tuple[StaffRead, int]:
    staff = await _get(session, username, for_update=True)
    await _check_assignments(session, StaffRole(staff.role), data.region_codes)
    await repository.replace_assignments(session, staff.id, data.region_codes)
    staff.version += 1
    staff.updated_at = utcnow()
    staff.updated_by = actor_id
    await session.flush()
    [read] = await _reads(session, [staff], {staff.id: data.region_codes})
    return read, staff.version
