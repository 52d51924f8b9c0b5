"""Departments as the API shows and takes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field, StrictBool

from shared.schemas import DEPARTMENT_CODE, Changes, Page, RequestModel, ResponseModel


class DepartmentRead(ResponseModel):
    code: str = Field(examples=["market-supervision"])
    name_zh: str = Field(examples=["工商所"])
    name_en: str = Field(examples=["Market supervision office"])
    phone: str | None = Field(examples=["0592-2021234"])
    retired_at: datetime | None = Field(
        default=None, description="when an admin retired the department (`retired: true`); null while in use"
    )
    retired_by: str | None = Field(default=None, description="who retired it", examples=[None])
    active_handlers: int | None = Field(
        default=None,
        description="its staff with the handler role who can sign in (active, with a password), "
        "who see the cases dispatched to it: 0 means those cases wait unseen until one is assigned "
        "or given a password; null to an integration, which reads no staff",
        examples=[2],
    )


DepartmentPage = Page[DepartmentRead]


class DepartmentCreate(RequestModel):
    code: str = Field(max_length=32, pattern=DEPARTMENT_CODE, examples=["market-supervision"])
    name_zh: str = Field(min_length=1, max_length=64, examples=["工商所"])
    name_en: str = Field(min_length=1, max_length=128, examples=["Market supervision office"])
    phone: str | None = Field(default=None, min_length=1, max_length=32, examples=["0592-2021234"])

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "market-supervision",
                    "name_zh": "工商所",
                    "name_en": "Market supervision office",
                    "phone": "0592-2021234",
                }
            ]
        }
    )


class DepartmentUpdate(Changes):
    """The fields to change; omitted fields stay as they are, `phone: null` clears the phone;
    `retired: true` retires the department, `false` brings it back."""

    clearable = frozenset({"phone"})

    name_zh: str | None = Field(default=None, min_length=1, max_length=64, examples=["中华工商所"])
    name_en: str | None = Field(default=None, min_length=1, max_length=128)
    phone: str | None = Field(default=None, min_length=1, max_length=32, examples=["0592-2029999"])
    retired: StrictBool | None = Field(
        default=None,
        description="true retires the department (409 while a category in use or a routing override "
        "names it); false brings it back",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"phone": "0592-2029999"}, {"retired": True}]})
