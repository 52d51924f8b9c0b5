"""Sending a case to a department: 派遣 (dispatch, from triage) and 改派 (reassign, to another).

The department comes from grid, in use (a retired one keeps its cases and gets no new one). A
department with no active handler who can sign in takes the case all the same (the office may
be about to staff it); the answer's ``warnings`` says so (:class:`CaseDispatched`), and dispatch
logs it once the command has committed, as grid answers a staff change that leaves a department
so. The inbox logs an automatic dispatch there with the same words (:func:`unstaffed`).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.calendar.service import Calendar
from services.dispatch.cases import repository, timeline
from services.dispatch.cases.lifecycle import Step, next_status
from services.dispatch.cases.reading import case_detail
from services.dispatch.cases.schemas import CaseDispatched, DispatchRequest, ReassignRequest
from services.dispatch.cases.service import assign, locked, touch, who
from services.dispatch.clients.grid import Department, GridClient
from services.dispatch.inbox import repository as placement
from services.dispatch.models import Case
from shared.actors import Actor
from shared.db import after_commit, utcnow
from shared.errors import Unprocessable

log = logging.getLogger("wangge.dispatch.cases")


async def dispatch(
    session: AsyncSession,
    grid: GridClient,
    calendar: Calendar,
    *,
    case_id: int,
    if_match: str | None,
    body: DispatchRequest,
    actor: Actor,
) -> CaseDispatched:
    if body.category_code:
        # The category decides which reports join the case: a batch of the inbox, which reads
        # the open cases near its reports unlocked, takes turns with this change (the placement
        # lock, taken before the case's as the batch does) and sees the category old or new.
        await placement.serialize_placement(session)
    case = await locked(session, case_id, if_match, actor)
    before = case.status
    next_status(Step.dispatch, before)
    department = await _department(grid, body.department_code)
    category_code = body.category_code or case.category_code
    category = await grid.category(category_code) if category_code else None
    if body.category_code and category is None:
        raise Unprocessable(f"grid knows no category {body.category_code!r}")
    if body.category_code and category is not None and category.retired_at is not None:
        # the case's own category, retired since its report, may stay: the office chose no other
        raise Unprocessable(f"category {body.category_code!r} is retired from the catalog: choose another")
    if category is not None:
        case.category_code = category.code
        case.category_name = category.name_zh
        case.urgency = category.urgency
        # Later reports join an open case by its reports' category: the one set here now.
        await repository.recategorize_reports(session, case.id, category.code)
    case.time_limit_hours = category.time_limit_hours if category else None
    data = {"department_code": department.code, "category_code": case.category_code}
    return await _send(session, calendar, case, department, actor, Step.dispatch, before, body.note, data)


async def _department(grid: GridClient, code: str) -> Department:
    """The department a dispatcher sends a case to: 422 unless grid has it in use (a retired
    one keeps the cases it has, and gets no new one)."""
    department = await grid.department(code)
    if department is None:
        raise Unprocessable(f"grid knows no department {code!r}")
    if department.retired_at is not None:
        raise Unprocessable(f"department {code!r} ({department.name_zh}) is retired: choose another")
    return department


def unstaffed(code: str, name: str) -> str:
    """The warning that a case went to a department nobody there can see it in."""
    return (
        f"department {code} ({name}) has no active handler who can sign in: "
        "the case will wait unseen until one is assigned or given a password"
    )


async def _send(
    session: AsyncSession,
    calendar: Calendar,
    case: Case,
    department: Department,
    actor: Actor,
    step: Step,
    before: str,
    note: str | None,
    data: dict[str, Any],
) -> CaseDispatched:
    """Give the case to ``department`` with a new deadline and record ``step``; the answer is
    the case, warned when grid counts no active handler there (none when grid did not say), as
    the log is once the command has committed."""
    now = utcnow()
    assign(
        case,
        department_code=department.code,
        department_name=department.name_zh,
        time_limit_hours=case.time_limit_hours,
        now=now,
        working_time=await calendar.working_time(session),
    )
    touch(case, now)
    await timeline.record(
        session, case, action=step, from_status=before, actor=who(actor), at=now, note=note, data=data
    )
    warnings = [unstaffed(department.code, department.name_zh)] if department.active_handlers == 0 else []
    done = "dispatched" if step is Step.dispatch else "reassigned"
    for warning in warnings:
        said = partial(log.warning, "case %s %s by %s: %s", case.case_number, done, actor.id, warning)
        after_commit(session, said)
    return CaseDispatched(**dict(await case_detail(session, case, actor)), warnings=warnings)


async def reassign(
    session: AsyncSession,
    grid: GridClient,
    calendar: Calendar,
    *,
    case_id: int,
    if_match: str | None,
    body: ReassignRequest,
    actor: Actor,
) -> CaseDispatched:
    case = await locked(session, case_id, if_match, actor)
    before, previous = case.status, case.department_code
    next_status(Step.reassign, before)
    if body.department_code == previous:
        raise Unprocessable(f"the case is already with {previous!r}: reassign it to another department")
    department = await _department(grid, body.department_code)
    data = {"from_department_code": previous, "department_code": department.code}
    return await _send(session, calendar, case, department, actor, Step.reassign, before, body.note, data)
