"""Staff as the API shows and takes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from services.grid.regions.codes import CODE_PATTERN
from services.grid.staff.rules import StaffRole, department_problem
from shared.errors import explain_pattern
from shared.schemas import DEPARTMENT_CODE, Changes, Page, RequestModel, ResponseModel

USERNAME = explain_pattern(
    r"^[a-z0-9][a-z0-9._-]{0,63}$",
    "a username: up to 64 lower-case letters, digits, '.', '_' and '-', beginning with a letter or digit",
)
MAX_ASSIGNMENTS = 200

RegionCode = Annotated[str, StringConstraints(max_length=15, pattern=CODE_PATTERN)]
RegionCodes = Annotated[list[RegionCode], AfterValidator(lambda codes: sorted(set(codes)))]
"""Assigned regions, a set: a code given twice is one assignment (the answer showed it twice)."""


class StaffRead(ResponseModel):
    username: str = Field(examples=["wang.fang"])
    name: str = Field(examples=["王芳"])
    role: StaffRole = Field(examples=[StaffRole.grid_worker])
    department_code: str | None = Field(examples=[None])
    phone: str | None = Field(examples=["13800000001"])
    active: bool = Field(examples=[True])
    region_codes: list[str] = Field(description="assigned regions, sorted", examples=[["35020300100101"]])
    has_password: bool = Field(description="whether the person can log in", examples=[True])
    sign_in_locked_until: datetime | None = Field(
        default=None,
        description="until when signing in with a password is locked after failed attempts "
        "(null: not locked); a new password unlocks it",
        examples=[None],
    )
    created_at: datetime
    updated_at: datetime


StaffPage = Page[StaffRead]


class StaffChanged(StaffRead):
    """A staff member as a change left them, and what the change left wanting."""

    warnings: list[str] = Field(
        default_factory=list,
        description="what the change, which went through, left undone: a department it left "
        "with no active handler who can sign in (its cases wait unseen until one is assigned "
        "or given a password); empty when none",
        examples=[
            [
                "department market-supervision (工商所) now has no active handler who can sign in: "
                "cases routed to it will wait unseen until one is assigned or given a password"
            ]
        ],
    )


def _lower_case(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class StaffCreate(RequestModel):
    username: Annotated[str, BeforeValidator(_lower_case)] = Field(
        max_length=64,
        pattern=USERNAME,
        examples=["wang.fang"],
        description="lower case (Zhao.Ling is taken as zhao.ling: signing in takes any case)",
    )
    name: str = Field(min_length=1, max_length=64, examples=["王芳"])
    role: StaffRole = Field(examples=[StaffRole.grid_worker])
    department_code: str | None = Field(
        default=None, max_length=32, pattern=DEPARTMENT_CODE, description="required for handlers, else null"
    )
    phone: str | None = Field(default=None, min_length=1, max_length=32, examples=["13800000001"])
    active: StrictBool = True
    region_codes: RegionCodes = Field(
        default_factory=list, max_length=MAX_ASSIGNMENTS, description="initial grid assignments"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "wang.fang",
                    "name": "王芳",
                    "role": "grid_worker",
                    "phone": "13800000001",
                    "region_codes": ["35020300100101", "35020300100102"],
                },
                {
                    "username": "ke.jianhua",
                    "name": "柯建华",
                    "role": "handler",
                    "department_code": "market-supervision",
                },
            ]
        }
    )

    @model_validator(mode="after")
    def _department_fits_role(self) -> StaffCreate:
        found = department_problem(self.role, self.department_code)
        if found:
            raise ValueError(found)
        return self


class StaffUpdate(Changes):
    """The fields to change; omitted fields stay. Role and department are checked together:
    `department_code: null` clears the department of someone who is not (or no longer) a
    handler; `phone: null` clears the phone."""

    clearable = frozenset({"department_code", "phone"})

    name: str | None = Field(default=None, min_length=1, max_length=64)
    role: StaffRole | None = None
    department_code: str | None = Field(default=None, max_length=32, pattern=DEPARTMENT_CODE)
    phone: str | None = Field(default=None, min_length=1, max_length=32)
    active: StrictBool | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"active": False}, {"phone": "13800000009"}]})


class AssignmentsSet(RequestModel):
    """The complete new set of assigned regions (an empty list clears them)."""

    region_codes: RegionCodes = Field(max_length=MAX_ASSIGNMENTS, examples=[["35020300100101"]])

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"region_codes": ["35020300100101", "35020300100102"]}]}
    )
