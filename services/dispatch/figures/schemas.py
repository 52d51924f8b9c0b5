"""The figures' answer: counts and rates of the cases registered in a period."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from shared.schemas import ResponseModel


class Figures(ResponseModel):
    """Counts of the cases registered (立案) in the period, as they stand now, and their rates.
    A rate is ``null`` when its denominator is 0."""

    cases: int = Field(description="registered in the period")
    rejected: int = Field(description="of those, rejected (void or duplicate)")
    to_close: int = Field(description="cases less rejected: what should be closed (应结案数)")
    closed: int = Field(description="closed now (结案数)")
    closed_on_time: int = Field(
        description="closed, every handling resolved before its deadline (按期结案数)"
    )
    reworked: int = Field(
        description="the department it is with had its handling sent back at least once: a failed "
        "check or unsatisfied feedback (返工)"
    )
    overdue: int = Field(description="past the deadline now, still with the department")
    urged: int = Field(description="urged at least once, by the office or by dispatch once overdue (督办)")
    rated: int = Field(description="with the reporter's rating")
    satisfied: int = Field(description="rated 4 or 5")
    unsatisfied: int = Field(description="rated 1 or 2")
    mean_rating: float | None = Field(examples=[4.2])
    closure_rate: float | None = Field(description="closed / to_close (结案率)", examples=[0.95])
    on_time_closure_rate: float | None = Field(
        description="closed_on_time / to_close (按期结案率)", examples=[0.9]
    )
    rework_rate: float | None = Field(description="reworked / to_close (返工率)", examples=[0.03])
    satisfaction_rate: float | None = Field(description="satisfied / rated (满意率)", examples=[0.88])


class DepartmentFigures(Figures):
    department_code: str | None = Field(description="null: cases no department had (triage, rejected)")
    department_name: str | None


class FiguresRead(ResponseModel):
    since: date = Field(description="the period's first day, in the office's time zone")
    until: date = Field(description="the day after its last")
    timezone: str = Field(examples=["Asia/Shanghai"])
    total: Figures
    departments: list[DepartmentFigures] = Field(description="by the department each case is with now")


class GroupFigures(Figures):
    key: str | None = Field(
        description="the category's code, the community's or the grid cell's; null: the cases with "
        "none (no category, outside the grid)",
        examples=["0501"],
    )
    name: str | None = Field(
        description="the category's name as the cases have it, the community's or the cell's as "
        "grid has it (null while grid is out of reach or does not know it); null for the cases with none",
        examples=["占道经营"],
    )


class GroupedFiguresRead(ResponseModel):
    """The figures by category, community or grid cell (``by``): the groups with cases only,
    the most cases first (the hot spots), then by key, the cases with none last."""

    since: date = Field(description="the period's first day, in the office's time zone")
    until: date = Field(description="the day after its last")
    timezone: str = Field(examples=["Asia/Shanghai"])
    by: Literal["category", "community", "grid_cell"]
    total: Figures
    groups: list[GroupFigures] = Field(description="by the case's category, community or grid cell")
