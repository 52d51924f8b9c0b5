"""Routing overrides and the answer of resolve."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from services.grid.catalog.schemas import CategoryRead
from services.grid.regions.codes import CODE_PATTERN
from shared.schemas import CATEGORY_CODE, DEPARTMENT_CODE, Page, RequestModel, ResponseModel


class OverrideCreate(RequestModel):
    region_code: str = Field(max_length=15, pattern=CODE_PATTERN, examples=["350203001001"])
    category_code: str = Field(max_length=8, pattern=CATEGORY_CODE, examples=["0501"])
    department_code: str = Field(max_length=32, pattern=DEPARTMENT_CODE, examples=["market-supervision"])

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region_code": "350203001001",
                    "category_code": "0501",
                    "department_code": "market-supervision",
                }
            ]
        }
    )


class OverrideRead(ResponseModel):
    id: int = Field(examples=[1])
    region_code: str = Field(examples=["350203001001"])
    category_code: str = Field(examples=["0501"])
    department_code: str = Field(examples=["market-supervision"])
    created_at: datetime
    created_by: str = Field(examples=["pan.jun"])


OverridePage = Page[OverrideRead]


class Source(StrEnum):
    override = "override"
    catalog = "catalog"
    none = "none"


class DepartmentRef(ResponseModel):
    code: str = Field(examples=["market-supervision"])
    name_zh: str = Field(examples=["工商所"])
    name_en: str = Field(examples=["Market supervision office"])
    active_handlers: int = Field(
        description="its handlers who can sign in (active, with a password), as `GET /v1/departments` "
        "counts them: 0 means a case routed there waits unseen until one is assigned or given a password",
        examples=[2],
    )


MAX_QUESTIONS = 500
"""Routing questions one ``POST /v1/routing/resolutions`` may ask."""


class RouteQuestion(RequestModel):
    """Codes as reports carry them: one that is not a catalog or region code is simply unknown."""

    category: str = Field(min_length=1, max_length=64, examples=["0501"])
    cell: str | None = Field(default=None, min_length=1, max_length=32, examples=["35020300100101"])


class RouteQuestions(RequestModel):
    questions: list[RouteQuestion] = Field(min_length=1, max_length=MAX_QUESTIONS)


class Resolution(ResponseModel):
    """Where a report of ``category`` in a cell goes; ``department`` null: a dispatcher decides."""

    category: CategoryRead
    department: DepartmentRef | None
    source: Source = Field(examples=[Source.override])
    region_code: str | None = Field(
        description="the region whose override applied", examples=["350203001001"]
    )


class RouteAnswer(ResponseModel):
    """The answer to one question: ``resolution``, or ``unknown`` naming what grid does not know."""

    category: str = Field(examples=["0501"])
    cell: str | None = Field(examples=["35020300100101"])
    resolution: Resolution | None
    unknown: str | None = Field(
        description="why there is no resolution (what a single resolve answers 404 with)",
        examples=["no region 35020300100199"],
    )


class RouteAnswers(ResponseModel):
    answers: list[RouteAnswer] = Field(description="one per question, in the questions' order")
