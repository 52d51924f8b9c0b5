"""The daily log (民情日志) as the API shows and takes it. Every text and list is bounded."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, StrictInt, StringConstraints

from services.grid.staff.rules import StaffRole
from shared.errors import explain_pattern
from shared.schemas import Changes, Day, Page, RequestModel, ResponseModel

CELL_CODE = explain_pattern(r"^[0-9]{14,15}$", "a grid cell's unit-grid code (14 or 15 digits)")
COMMUNITY_CODE = explain_pattern(r"^[0-9]{12}$", "a community's unit-grid code (12 digits)")

MAX_PATROL = 2000
MAX_CONCERN = 200
MAX_CONCERNS = 30
MAX_HOUSEHOLDS = 500
MAX_REPORT_IDS = 50

Concern = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CONCERN)]


def _each_once(ids: list[UUID]) -> list[UUID]:
    return list(dict.fromkeys(ids))


ReportIds = Annotated[list[UUID], Field(max_length=MAX_REPORT_IDS), AfterValidator(_each_once)]
"""A set, in the order given: an id named twice is one reference."""

Patrol = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATROL)]
Concerns = Annotated[list[Concern], Field(max_length=MAX_CONCERNS)]
Households = Annotated[StrictInt, Field(ge=0, le=MAX_HOUSEHOLDS)]

PATROL_DESCRIPTION = f"what was patrolled and found (1 to {MAX_PATROL} characters)"
CONCERNS_DESCRIPTION = (
    f"the residents' concerns heard (民情), each 1 to {MAX_CONCERN} characters, at most {MAX_CONCERNS}"
)
HOUSEHOLDS_DESCRIPTION = f"households visited (走访), 0 to {MAX_HOUSEHOLDS}"
REPORTS_DESCRIPTION = (
    f"ids of reports the author filed that day (intake's; at most {MAX_REPORT_IDS}, each once): "
    "kept as references, not checked"
)


class PatrolLogRead(ResponseModel):
    id: int = Field(examples=[17])
    author: str = Field(description="the grid worker's username", examples=["wang.fang"])
    day: date = Field(description="the office day the entry is for", examples=["2026-12-05"])
    grid_cell: str = Field(examples=["35020300100101"])
    patrol: str = Field(examples=["巡查中山路、镇海路沿线，88号门口占道摆摊已上报"])
    concerns: list[str] = Field(examples=[["3号楼夜间装修噪音扰民", "独居老人陈阿婆需定期探访"]])
    households_visited: int = Field(examples=[12])
    report_ids: list[UUID] = Field(examples=[["5f0c2a1e-8d3c-4b6a-9f7e-2d1c0b9a8e7f"]])
    editable_until: date = Field(
        description="the last office day on which the author may correct it (its day and the next); "
        "after that it is kept as written",
        examples=["2026-12-06"],
    )
    created_at: datetime
    updated_at: datetime


PatrolLogPage = Page[PatrolLogRead]


class PatrolLogCreate(RequestModel):
    day: Day | None = Field(
        default=None,
        description="the office day it is for: today (the default) or yesterday",
        examples=["2026-12-05"],
    )
    grid_cell: str = Field(
        max_length=15, pattern=CELL_CODE, description="one of the author's cells", examples=["35020300100101"]
    )
    patrol: Patrol = Field(description=PATROL_DESCRIPTION)
    concerns: Concerns = Field(default_factory=list, description=CONCERNS_DESCRIPTION)
    households_visited: Households = Field(default=0, description=HOUSEHOLDS_DESCRIPTION)
    report_ids: ReportIds = Field(default_factory=list, description=REPORTS_DESCRIPTION)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "grid_cell": "35020300100101",
                    "patrol": "巡查中山路、镇海路沿线，88号门口占道摆摊已上报",
                    "concerns": ["3号楼夜间装修噪音扰民", "独居老人陈阿婆需定期探访"],
                    "households_visited": 12,
                    "report_ids": ["5f0c2a1e-8d3c-4b6a-9f7e-2d1c0b9a8e7f"],
                }
            ]
        }
    )


class PatrolLogUpdate(Changes):
    """The fields to correct; omitted fields stay (`[]` empties a list). The day and the cell
    are the entry's own: write another entry for another."""

    patrol: Patrol | None = Field(default=None, description=PATROL_DESCRIPTION)
    concerns: Concerns | None = Field(default=None, description=CONCERNS_DESCRIPTION)
    households_visited: Households | None = Field(default=None, description=HOUSEHOLDS_DESCRIPTION)
    report_ids: ReportIds | None = Field(default=None, description=REPORTS_DESCRIPTION)

    model_config = ConfigDict(json_schema_extra={"examples": [{"households_visited": 14}]})


class MissingRead(ResponseModel):
    """A grid worker or assistant who wrote no entry that day."""

    username: str = Field(examples=["li.na"])
    name: str = Field(examples=["李娜"])
    role: StaffRole = Field(examples=[StaffRole.grid_worker])
    phone: str | None = Field(examples=["13800592002"])
    grid_cells: list[str] = Field(
        description="the cells they are assigned, sorted", examples=[["35020300100103", "35020300100104"]]
    )


class MissingPage(Page[MissingRead]):
    day: date = Field(description="the office day checked", examples=["2026-12-05"])


class LogFigures(ResponseModel):
    """Sums over the entries of the period the reader may read."""

    days_logged: int = Field(description="office days with at least one entry (巡查天数)", examples=[21])
    entries: int = Field(description="entries written, one a cell and day", examples=[38])
    households_visited: int = Field(description="households visited, summed (走访户数)", examples=[264])
    concerns: int = Field(description="residents' concerns heard, counted one by one (民情)", examples=[17])
    last_day: date | None = Field(
        description="the last day with an entry; null: none", examples=["2026-12-05"]
    )


class _Person(ResponseModel):
    """Who a row of the figures is (its fields first in the answer, then the figures)."""

    username: str = Field(examples=["wang.fang"])
    name: str = Field(examples=["王芳"])
    role: StaffRole = Field(description="as it stands now", examples=[StaffRole.grid_worker])
    grid_cells: list[str] = Field(
        description="the cells they are assigned now, sorted (none: they have left the grid, "
        "and are named for the entries they wrote)",
        examples=[["35020300100101", "35020300100102"]],
    )


class PersonFigures(LogFigures, _Person):
    """One grid worker's or assistant's figures (a person with no entry: zeros)."""


class LogFiguresRead(ResponseModel):
    since: date = Field(description="the period's first office day", examples=["2026-12-01"])
    until: date = Field(description="the day after its last", examples=["2026-12-06"])
    timezone: str = Field(description="the office's, in which days are counted", examples=["Asia/Shanghai"])
    people: list[PersonFigures] = Field(description="by username")
    total: LogFigures = Field(
        description="the people's sums; `days_logged` is theirs summed (person-days), "
        "`last_day` the latest of theirs"
    )
