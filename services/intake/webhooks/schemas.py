"""A webhook as its integration sets and reads it, and the update it delivers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.schemas import Page, RequestModel, ResponseModel


def sendable_url(url: str) -> str:
    """``url`` when intake can POST to it; else ValueError saying why (a port out of range, no
    host, a host name no resolver takes: the pattern let them in, and delivery failed on them)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises when out of range or not a number
        if not parts.hostname:
            raise ValueError("it names no host")
        if port == 0:
            raise ValueError("port 0 is no port")
        parts.hostname.encode("idna")  # an empty label (a..b), one over 63 characters
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(str(exc)) from exc
    except UnicodeError as exc:
        raise ValueError(f"its host is no domain name ({exc})") from exc
    return url


WebhookUrl = Annotated[str, Field(max_length=500, pattern=r"^https?://\S+$"), AfterValidator(sendable_url)]


class WebhookPut(RequestModel):
    url: WebhookUrl = Field(description="where intake POSTs the updates (http or https)")

    model_config = ConfigDict(json_schema_extra={"examples": [{"url": "https://bot.example.org/wangge"}]})


class WebhookRead(ResponseModel):
    url: str
    created_at: datetime
    updated_at: datetime
    pending: int = Field(description="updates waiting to be delivered (or retried)")
    dead: int = Field(description="updates given up on: the endpoint failed them for too long")
    last_error: str | None = Field(description="why the latest failed delivery failed")
    secret: str | None = Field(
        default=None,
        description="the signing secret (`whsec_…`): answered only when the webhook is created or "
        "its secret rotated, and never again",
    )
    previous_secret_until: datetime | None = Field(
        default=None,
        description="after a rotation: until then each delivery carries a second signature, made "
        "with the secret the rotation replaced",
    )


class WebhookListed(WebhookRead):
    owner_id: str = Field(
        description="the integration (`integration:<key id>`) it tells",
        examples=["integration:ak_3f9c2a7d01b4e655"],
    )


WebhookPage = Page[WebhookListed]


class UpdateEvent(BaseModel):
    event_id: int = Field(description="dispatch's event id: newer events have larger ids")
    action: str = Field(examples=["dispatched"])
    status: str = Field(examples=["dispatched"])
    note: str | None = Field(description="as the report's `updates` show it")
    occurred_at: datetime


class UpdateReport(BaseModel):
    id: uuid.UUID
    status: str
    case_id: int
    case_number: str
    department_code: str | None
    department_name: str | None
    deadline_at: datetime | None


class ReportUpdated(BaseModel):
    """The body of a delivery: one update of one of the integration's reports."""

    type: Literal["report.updated"] = "report.updated"
    id: str = Field(description="`<report id>:<event id>`, also the `webhook-id` header: the same on a retry")
    report: UpdateReport = Field(description="the report's case as this event left it")
    event: UpdateEvent
