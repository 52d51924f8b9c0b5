"""Base schemas: strict request bodies, ORM-readable responses, the problem document, pages."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.errors import Unprocessable

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_ROW_ID = 2**63 - 1
"""The largest integer id a row can have (a signed 64-bit ``BIGINT``): a larger one in a path is a
422, not a 500 from a driver that cannot send it (SQLite raises ``OverflowError``)."""


class RequestModel(BaseModel):
    """A request body: unknown fields are rejected, strings are trimmed and may not hold NUL
    (PostgreSQL's text cannot store it; refused here, the answer is the same on SQLite)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="after")
    def _no_nul_characters(self) -> Self:
        for name, value in self:
            if _holds_nul(value):
                raise ValueError(f"{name} contains a NUL character (U+0000)")
        return self


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    return False  # nested request models checked themselves


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    type: str = Field(examples=["https://wangge.dev/problems/illegal-transition"])
    title: str = Field(examples=["Illegal transition"])
    status: int = Field(examples=[409])
    detail: str = Field(examples=["cannot accept a case that is closed"])
    instance: str | None = Field(default=None, examples=["/v1/cases/12/accept"])

    model_config = ConfigDict(extra="allow")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next one (null at the end)."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable("cursor is not one this service issued") from exc
    if not isinstance(value, dict):
        raise Unprocessable("cursor is not one this service issued")
    return value
