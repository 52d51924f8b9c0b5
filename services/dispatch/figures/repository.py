"""The figures' query: one grouped scan of the period's cases, by the department each is with
now, its category, its community or its grid cell (:data:`GROUPINGS`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, case, exists, func, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.dispatch.cases.lifecycle import Status, Step
from services.dispatch.cases.repository import overdue
from services.dispatch.models import Case, CaseEvent

Grouping = Literal["department", "category", "community", "grid_cell"]
Column = InstrumentedAttribute[str | None]

GROUPINGS: dict[Grouping, tuple[Column, Column | None]] = {
    "department": (Case.department_code, Case.department_name),
    "category": (Case.category_code, Case.category_name),
    "community": (Case.community, None),
    "grid_cell": (Case.grid_cell, None),
}
"""Each grouping's key column on the case and the name the case keeps beside it, if it keeps one:
a category's name is on the case (the catalog's when it was given), a community's or a cell's
is grid's alone (the service asks grid for it)."""


@dataclass(frozen=True)
class Counts:
    key: str | None
    """The department's code, the category's, the community's or the cell's; None: the cases
    with none (no department had them, no category, outside the grid)."""
    name: str | None
    cases: int
    rejected: int
    closed: int
    closed_on_time: int
    reworked: int
    overdue: int
    urged: int
    rated: int
    rating_sum: int
    satisfied: int
    unsatisfied: int


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _by_its_department() -> ColumnElement[bool]:
    """The event is of the department the case is with now (its ``department_code``); one
    written before events recorded their department counts as that department's."""
    by = CaseEvent.data["department_code"].as_string()
    return or_(by.is_(None), by == Case.department_code)


def reworked_by_its_department() -> ColumnElement[bool]:
    """The department the case is with had its handling sent back at least once (a failed
    check, an unsatisfied rating): a rework of an earlier department's work is not charged to
    the next. Asked only of cases reworked at all (``rework_count``), a few in a hundred. The
    figures count it of the cases to close only: a case rejected after a rework is neither."""
    return and_(
        Case.rework_count > 0,
        exists().where(
            CaseEvent.case_id == Case.id,
            CaseEvent.action.in_([Step.rework.value, Step.reopen.value]),
            _by_its_department(),
        ),
    )


def resolved_late() -> ColumnElement[bool]:
    """The department the case is with resolved it past its deadline at least once (its
    ``resolved`` events say). A department that had the case before and was late is not the
    one counted: a case reassigned after a late handling is not charged to the next.

    A ``resolved`` event written before they recorded ``on_time`` (before dispatch_0009) is
    judged by the case's deadline, the one of its last handling: most cases have one."""
    on_time = CaseEvent.data["on_time"].as_boolean()
    return exists().where(
        CaseEvent.case_id == Case.id,
        CaseEvent.action == Step.resolve.value,
        _by_its_department(),
        or_(
            on_time == False,  # noqa: E712 - SQL, not Python
            and_(on_time.is_(None), Case.deadline_at.is_not(None), CaseEvent.at > Case.deadline_at),
        ),
    )


async def counts(
    session: AsyncSession,
    *,
    registered_from: datetime,
    registered_to: datetime,
    scope: ColumnElement[bool],
    department: str | None,
    now: datetime,
    by: Grouping = "department",
) -> list[Counts]:
    """The counts of each group with cases, in key order. A case renamed since (a category
    renamed in the catalog) keeps the name it had: a group's name is the greatest of its cases'."""
    key, name = GROUPINGS[by]
    closed = Case.status == Status.closed.value
    query = (
        select(
            key,
            func.max(name) if name is not None else null(),
            func.count(),
            _count_if(Case.status == Status.rejected.value),
            _count_if(closed),
            _count_if(and_(closed, ~resolved_late())),
            _count_if(and_(Case.status != Status.rejected.value, reworked_by_its_department())),
            _count_if(overdue(now)),
            _count_if(Case.urge_count > 0),
            func.count(Case.rating),
            func.coalesce(func.sum(Case.rating), 0),
            _count_if(Case.rating >= 4),
            _count_if(Case.rating <= 2),
        )
        .where(Case.created_at >= registered_from, Case.created_at < registered_to, scope)
        .group_by(key)
        .order_by(key)
    )
    if department is not None:
        query = query.where(Case.department_code == department)
    rows = (await session.execute(query)).all()
    return [Counts(row[0], row[1], *(int(value or 0) for value in row[2:])) for row in rows]
