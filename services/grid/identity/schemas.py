"""Tokens, API keys and passwords as the API shows and takes them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import explain_pattern
from shared.schemas import Page, RequestModel, ResponseModel, Timestamp

CHANNEL = explain_pattern(
    r"^[a-z0-9][a-z0-9-]{0,31}$",
    "a channel's name: up to 32 lower-case letters, digits and '-', beginning with a letter or digit",
)
MIN_PASSWORD, MAX_PASSWORD = 8, 128


class Scope(StrEnum):
    """What an integration's key may do (intake enforces them)."""

    reports_create = "reports:create"
    reports_read = "reports:read"


GrantType = Literal["password", "refresh_token", "client_credentials"]
GRANT_TYPES: tuple[str, ...] = get_args(GrantType)


class TokenRequest(BaseModel):
    """The form of ``POST /v1/auth/token`` (OAuth2: ``application/x-www-form-urlencoded``).

    Fields a grant does not use are ignored (``scope`` but by the client_credentials grant), so
    Swagger's Authorize works. ``client_id`` and ``client_secret`` may come from HTTP Basic
    instead (the router puts them here).
    """

    grant_type: GrantType
    username: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=MAX_PASSWORD)
    refresh_token: str | None = Field(default=None, max_length=128)
    client_id: str | None = Field(default=None, max_length=64)
    client_secret: str | None = Field(default=None, max_length=256)
    scope: str | None = Field(
        default=None,
        max_length=256,
        description="client_credentials only: the scopes wanted, space-separated (a key's own, or fewer)",
    )

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class TokenResponse(ResponseModel):
    access_token: str = Field(description="a JWT (EdDSA) for `Authorization: Bearer`")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token is valid", examples=[900])
    refresh_token: str | None = Field(
        default=None, description="password and refresh grants only; spent by its first use"
    )
    scope: str | None = Field(
        default=None,
        description="client_credentials only: the scopes the token carries, space-separated",
        examples=["reports:create reports:read"],
    )


class LogoutRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=128)

    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "kq3…"}]})


class Jwk(BaseModel):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    use: Literal["sig"]
    alg: Literal["EdDSA"]


class Jwks(BaseModel):
    keys: list[Jwk]


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, or None: its length, or nothing but spaces."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
    if not password.strip():
        return "a password is more than spaces"  # eight spaces were taken
    return None


class PasswordSet(RequestModel):
    """A new password; a person changing their own also gives the current one (admins need not)."""

    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    current_password: str | None = Field(default=None, max_length=MAX_PASSWORD)

    @field_validator("password")
    @classmethod
    def _usable(cls, password: str) -> str:
        problem = password_problem(password)
        if problem:
            raise ValueError(problem)
        return password

    model_config = ConfigDict(
        str_strip_whitespace=False,
        json_schema_extra={
            "examples": [{"password": "a long new passphrase", "current_password": "wangge-demo"}]
        },
    )


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=64, examples=["商圈理事会群机器人"])
    channel: str = Field(max_length=32, pattern=CHANNEL, examples=["wechat-bot"])
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope), examples=[["reports:create"]])
    expires_at: Timestamp | None = Field(
        default=None, description="RFC 3339 with its offset, before the year 9000; null: until revoked"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "中山路商圈理事会群机器人",
                    "channel": "wechat-bot",
                    "scopes": ["reports:create", "reports:read"],
                }
            ]
        }
    )


class ApiKeyRead(ResponseModel):
    id: str = Field(examples=["ak_3f9c2a7d01b4e655"])
    name: str
    channel: str = Field(examples=["wechat-bot"])
    scopes: list[Scope]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="when it was last exchanged for a token")


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(
        description="`<id>.<secret>`, shown this once: use `id` as client_id and the secret as "
        "client_secret at `POST /v1/auth/token` (grant client_credentials)",
        examples=["ak_3f9c2a7d01b4e655.Vb0…"],
    )


ApiKeyPage = Page[ApiKeyRead]

MAX_KEY_STATES = 100
"""Keys one ``GET /internal/v1/key-states`` asks about at most."""


class KeyState(StrEnum):
    active = "active"
    revoked = "revoked"
    expired = "expired"
    unknown = "unknown"
    """grid has no such key."""


class ApiKeyState(ResponseModel):
    """Whether a key is live, and no more of it: what intake needs to go on delivering to the
    webhook its integration set."""

    id: str = Field(examples=["ak_3f9c2a7d01b4e655"])
    state: KeyState
    expires_at: datetime | None = Field(description="when an active or expired key runs out; null: never")
    revoked_at: datetime | None


class ApiKeyStates(ResponseModel):
    items: list[ApiKeyState] = Field(description="one per key asked about, in the order asked")
