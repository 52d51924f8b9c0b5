"""Open311 GeoReport v2's resources, as its JSON format spells them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Service(BaseModel):
    """A service a request may be for: a category of grid's catalog."""

    service_code: str = Field(examples=["0501"])
    service_name: str = Field(examples=["占道经营"])
    description: str = Field(examples=["Street stall blocking the road"])
    metadata: bool = Field(description="always false: no service has attributes to fill in")
    type: Literal["realtime", "batch", "blackbox"] = Field(
        description="realtime: a request's id is answered at once, and its status is tracked"
    )
    keywords: str = Field(examples=["Street order, Street stall blocking the road"])
    group: str = Field(examples=["街面秩序"])


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[dict[str, str]] = Field(description="always empty")


class RequestCreated(BaseModel):
    service_request_id: str = Field(examples=["0b6f2c3e-8d2a-4a43-9d57-0e6f1c7c1a01"])
    service_notice: str | None = None
    account_id: str | None = None


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"] = Field(description="closed: the case closed or was rejected")
    status_notes: str | None = Field(description="the latest update's note")
    service_name: str | None
    service_code: str | None
    description: str
    agency_responsible: str | None = Field(description="the department handling it")
    service_notice: str | None = Field(description="wangge's own status and case number")
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None = Field(description="the case's deadline")
    address: str | None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float
    long: float
    media_url: str | None = Field(description="the first of the report's photos")


class Open311Error(BaseModel):
    code: int = Field(examples=[400])
    description: str = Field(examples=["lat: lat and long are required"])
