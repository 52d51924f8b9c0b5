"""Request and response bodies of the case console API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictInt, computed_field

from services.dispatch.cases.lifecycle import is_due_soon, is_overdue
from shared.db import utcnow
from shared.schemas import CATEGORY_CODE, DEPARTMENT_CODE, Page, PhotoUrl, RequestModel, ResponseModel, RowId

Note: Any = Field(min_length=1, max_length=2000)
Photos: Any = Field(default_factory=list, max_length=9, description="photo URLs (http or https), at most 9")
PhotoList = list[PhotoUrl]


class CaseRead(ResponseModel):
    id: int
    case_number: str = Field(examples=["WG20261127-0007"])
    status: str = Field(examples=["dispatched"])
    category_code: str | None
    category_name: str | None
    urgency: str
    department_code: str | None
    department_name: str | None
    grid_cell: str | None
    community: str | None
    lat: float
    lon: float
    address: str | None
    description: str
    reported_at: datetime
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None
    deadline_at: datetime | None
    warn_at: datetime | None = Field(
        description="when the case falls due soon (预警): 80 % of its time limit gone, "
        "counted as the limit is"
    )
    resolved_at: datetime | None
    closed_at: datetime | None
    rework_count: int
    urge_count: int = Field(description="times the office urged the department (督办)")
    extension_requested_hours: int | None = Field(
        description="the hours more the department asked for, while the office has not answered"
    )
    report_count: int
    rating: int | None
    feedback_comment: str | None
    feedback_at: datetime | None
    duplicate_of: int | None
    version: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overdue(self) -> bool:
        """The deadline has passed and the case is still in a department's hands (dispatched or in
        progress): a resolved case waits for its check, not for the department."""
        return is_overdue(self.status, self.deadline_at, utcnow())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def due_soon(self) -> bool:
        """Past its warning, not yet its deadline, in a department's hands (预警, a yellow light;
        ``overdue`` is the red)."""
        return is_due_soon(self.status, self.warn_at, self.deadline_at, utcnow())


class ReportRead(ResponseModel):
    report_id: uuid.UUID
    reporter_id: str
    channel: str
    category: str | None
    description: str
    address: str | None
    lat: float
    lon: float
    photos: list[str]
    seen_at: datetime
    received_at: datetime
    joined_at: datetime


class EventRead(ResponseModel):
    id: int
    action: str = Field(examples=["dispatched"])
    from_status: str | None
    to_status: str
    actor_id: str | None = Field(
        description="who acted: a person's id, or the system's (`system:router` dispatched by the "
        "routing rules, `system:clock` urged once the deadline passed, both of role `service`); null for "
        "another reporter's event, to a reader who sees the case only as one of its reporters"
    )
    actor_role: str | None
    note: str | None
    photos: list[str]
    data: dict[str, Any]
    at: datetime


class CaseDetail(CaseRead):
    reports: list[ReportRead]
    timeline: list[EventRead] = Field(description="every event, oldest first")


class CaseDispatched(CaseDetail):
    """A case as a dispatch or a reassignment left it, and what the office should know of it."""

    warnings: list[str] = Field(
        default_factory=list,
        description="what the command, which went through, left wanting: the department has no "
        "active handler who can sign in (the case waits unseen until one is assigned or given a "
        "password); empty when none",
        examples=[
            [
                "department market-supervision (工商所) has no active handler who can sign in: "
                "the case will wait unseen until one is assigned or given a password"
            ]
        ],
    )


CasePage = Page[CaseRead]


class DispatchRequest(RequestModel):
    department_code: str = Field(max_length=32, pattern=DEPARTMENT_CODE, examples=["cg-zfzd"])
    category_code: str | None = Field(
        default=None,
        max_length=8,
        pattern=CATEGORY_CODE,
        description="set or correct the category; its time limit sets the deadline",
    )
    note: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"department_code": "cg-zfzd", "category_code": "0101"}]}
    )


class ReassignRequest(RequestModel):
    department_code: str = Field(
        max_length=32, pattern=DEPARTMENT_CODE, description="another department than now"
    )
    note: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"department_code": "market-supervision", "note": "licensing matter, not enforcement"}
            ]
        }
    )


class CloseRequest(RequestModel):
    note: str = Field(
        min_length=1, max_length=2000, description="why the case closes without an on-site check"
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "confirmed by phone with the shop owner; no visit needed"}]}
    )


class AcceptRequest(RequestModel):
    note: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "on our way"}]})


class UrgeRequest(RequestModel):
    note: str = Field(min_length=1, max_length=2000, description="what the office asks of the department")

    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "居民多次反映，请今日内处置完毕"}]})


ExtensionHours: Any = Field(
    ge=1,
    le=720,
    description="how many hours more, counted as the time limit is (working hours for a normal category)",
)


class ExtensionRequest(RequestModel):
    hours: StrictInt = ExtensionHours
    reason: str = Field(min_length=1, max_length=2000, description="why the department needs more time")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"hours": 8, "reason": "需更换井盖，配件明天到货"}]}
    )


class ExtensionRefusal(RequestModel):
    note: str = Field(min_length=1, max_length=2000, description="why the office refuses")

    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "不同意：今日内可处置完毕"}]})


class ExtendRequest(RequestModel):
    hours: StrictInt = ExtensionHours
    note: str = Field(min_length=1, max_length=2000, description="why the office grants it")

    model_config = ConfigDict(json_schema_extra={"examples": [{"hours": 8, "note": "同意延期：等待配件"}]})


class ReturnRequest(RequestModel):
    reason: str = Field(min_length=1, max_length=2000, description="why the department hands it back (退回)")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "not our responsibility: road belongs to port"}]}
    )


class ResolveRequest(RequestModel):
    note: str = Note
    photos: PhotoList = Photos

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"note": "stall moved off the road", "photos": ["https://files.example.org/p/after-1.jpg"]}
            ]
        }
    )


class VerifyRequest(RequestModel):
    passed: StrictBool
    note: str | None = Field(default=None, max_length=2000, description="required when passed is false")
    photos: PhotoList = Photos

    model_config = ConfigDict(json_schema_extra={"examples": [{"passed": True, "note": "checked on site"}]})


class RejectRequest(RequestModel):
    reason: Literal["void", "duplicate"]
    note: str | None = Field(default=None, max_length=2000)
    duplicate_of: RowId | None = Field(
        default=None, description="the case this one repeats: required with reason 'duplicate', else absent"
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "duplicate", "duplicate_of": 12}]})


class FeedbackRequest(RequestModel):
    rating: StrictInt = Field(ge=1, le=5, description="1 very unsatisfied … 5 very satisfied")
    comment: str | None = Field(default=None, max_length=1000)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"rating": 5, "comment": "fixed the same day"}]}
    )


class NoteRequest(RequestModel):
    note: str = Note
    photos: PhotoList = Photos
    to_reporters: StrictBool = Field(
        default=False,
        description="tell the case's reporters too (their report's updates, their chat bot's webhook): "
        "a reply, a step of progress; by default a note is the office's, on the timeline only",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"note": "called the shop owner"},
                {"note": "已安排清运车，今天下午清理", "to_reporters": True},
            ]
        }
    )
