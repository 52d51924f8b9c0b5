"""Categories of the responsibility catalog (权责清单) as the API shows and takes them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, StrictBool, StrictInt

from shared.schemas import CATEGORY_CODE, DEPARTMENT_CODE, Changes, Page, RequestModel, ResponseModel


class Urgency(StrEnum):
    normal = "normal"
    urgent = "urgent"
    critical = "critical"


class CategoryRead(ResponseModel):
    code: str = Field(examples=["0501"])
    name_zh: str = Field(examples=["占道经营"])
    name_en: str = Field(examples=["Street stall blocking the road"])
    class_zh: str = Field(examples=["街面秩序"])
    class_en: str = Field(examples=["Street order"])
    urgency: Urgency = Field(examples=[Urgency.urgent])
    time_limit_hours: int = Field(examples=[2])
    department_code: str | None = Field(
        description="responsible department; null means a dispatcher decides", examples=["law-enforcement"]
    )
    retired_at: datetime | None = Field(
        default=None,
        description="when an admin retired the category (`retired: true`): reports naming it wait in "
        "triage; null while in use",
    )
    retired_by: str | None = Field(default=None, description="who retired it", examples=[None])


CategoryPage = Page[CategoryRead]

_EXAMPLE: dict[str, Any] = {
    "code": "0501",
    "name_zh": "占道经营",
    "name_en": "Street stall blocking the road",
    "class_zh": "街面秩序",
    "class_en": "Street order",
    "urgency": "urgent",
    "time_limit_hours": 2,
    "department_code": "law-enforcement",
}


class CategoryCreate(RequestModel):
    code: str = Field(max_length=8, pattern=CATEGORY_CODE, examples=["0501"])
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    class_zh: str = Field(min_length=1, max_length=32)
    class_en: str = Field(min_length=1, max_length=64)
    urgency: Urgency = Urgency.normal
    time_limit_hours: StrictInt = Field(gt=0, le=24 * 365)
    department_code: str | None = Field(default=None, max_length=32, pattern=DEPARTMENT_CODE)

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})


class CategoryUpdate(Changes):
    """The fields to change; omitted fields stay, `department_code: null` hands the category to
    triage; `retired: true` retires the category, `false` brings it back."""

    clearable = frozenset({"department_code"})

    name_zh: str | None = Field(default=None, min_length=1, max_length=64)
    name_en: str | None = Field(default=None, min_length=1, max_length=128)
    class_zh: str | None = Field(default=None, min_length=1, max_length=32)
    class_en: str | None = Field(default=None, min_length=1, max_length=64)
    urgency: Urgency | None = None
    time_limit_hours: StrictInt | None = Field(default=None, gt=0, le=24 * 365)
    department_code: str | None = Field(default=None, max_length=32, pattern=DEPARTMENT_CODE)
    retired: StrictBool | None = Field(
        default=None,
        description="true retires the category (no longer listed or routed: a report naming it waits "
        "in triage); false brings it back",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"department_code": "market-supervision", "time_limit_hours": 4}, {"retired": True}]
        }
    )
