"""Fakes of dispatch's peers, served through ``httpx.MockTransport``.

The fake grid is also the identity provider: it serves the test JWKS and answers the
client-credentials grant with a token signed by the test key; both fakes refuse (401) a call
that does not carry a valid token of ``service:dispatch``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt

from shared.actors import Actor, Role
from shared.auth import JWKS_PATH, TOKEN_PATH
from tests.support import tokens

CELL = "35020300100101"
OTHER_CELL = "35020300100102"
COMMUNITY = "350203001001"
FAR_CELL = "35020300100201"  # in 仁安, another community
FAR_COMMUNITY = "350203001002"

CLIENT_SECRET = "dispatch-test-secret"
SERVICE = "service:dispatch"

STALL = "0101"  # 占道经营 → law-enforcement squad
MANHOLE = "0203"  # 井盖缺失 → municipal works, urgent
OTHER = "0999"  # 其他: the catalog names no department

DEPARTMENTS: dict[str, dict[str, Any]] = {
    "enforcement": {
        "code": "enforcement",
        "name_zh": "执法中队",
        "name_en": "Enforcement squad",
        "phone": "110",
        "active_handlers": 2,
    },
    "works": {
        "code": "works",
        "name_zh": "市政所",
        "name_en": "Municipal works",
        "phone": "12319",
        "active_handlers": 1,
    },
    "market": {
        "code": "market",
        "name_zh": "工商所",
        "name_en": "Market supervision",
        "phone": "12315",
        "active_handlers": 1,
    },
}
"""As grid shows them to dispatch's service: with how many handlers each has who can sign in."""


def region(code: str, name: str, level: str) -> dict[str, Any]:
    return {"code": code, "name": name, "level": level, "parent_code": code[:12] if level == "cell" else None}


REGIONS: dict[str, dict[str, Any]] = {
    COMMUNITY: region(COMMUNITY, "镇海社区", "community"),
    FAR_COMMUNITY: region(FAR_COMMUNITY, "仁安社区", "community"),
    CELL: region(CELL, "镇海社区第1网格", "cell"),
    OTHER_CELL: region(OTHER_CELL, "镇海社区第2网格", "cell"),
    FAR_CELL: region(FAR_CELL, "仁安社区第1网格", "cell"),
}


def category(
    code: str, name: str, department: str | None, hours: int, urgency: str = "normal"
) -> dict[str, Any]:
    return {
        "code": code,
        "name_zh": name,
        "name_en": name,
        "class_zh": "市容",
        "class_en": "city appearance",
        "urgency": urgency,
        "time_limit_hours": hours,
        "department_code": department,
    }


def problem(status: int, detail: str) -> httpx.Response:
    body = {
        "type": "https://wangge.dev/problems/not-found",
        "title": "Not found",
        "status": status,
        "detail": detail,
    }
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def caller(request: httpx.Request) -> str | None:
    """The subject of the request's bearer token when it is a valid test token, else None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        claims = jwt.decode(
            value,
            tokens.SIGNING_KEY.public_key(),
            algorithms=["EdDSA"],
            audience=tokens.AUDIENCE,
            issuer=tokens.ISSUER,
        )
    except jwt.PyJWTError:
        return None
    return str(claims["sub"])


@dataclass
class FakeGrid:
    """Answers routing, departments, catalog and regions from dicts; ``down`` makes those calls a 503
    (its identity endpoints, JWKS and token, stay up: dispatch has its keys cached by then)."""

    categories: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            STALL: category(STALL, "占道经营", "enforcement", 24),
            MANHOLE: category(MANHOLE, "井盖缺失", "works", 4, "urgent"),
            OTHER: category(OTHER, "其他", None, 48),
        }
    )
    departments: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEPARTMENTS))
    regions: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {code: dict(region) for code, region in REGIONS.items()}
    )
    overrides: dict[tuple[str, str], str] = field(default_factory=dict)
    cells: set[str] = field(default_factory=lambda: {CELL, OTHER_CELL, FAR_CELL})
    down: bool = False
    calls: list[str] = field(default_factory=list)
    questions: list[list[tuple[str, str | None]]] = field(default_factory=list)
    """the routing questions of each ``POST /v1/routing/resolutions``"""
    jwks_calls: int = 0
    token_calls: int = 0
    client_secret: str = CLIENT_SECRET

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == JWKS_PATH:
            self.jwks_calls += 1
            return httpx.Response(200, json=tokens.TEST_JWKS)
        if request.url.path == TOKEN_PATH and request.method == "POST":
            return self.token(request)
        self.calls.append(f"{request.url.path}?{request.url.query.decode()}")
        if caller(request) != SERVICE:
            return problem(401, "dispatch's service token expected")
        if self.down:
            return httpx.Response(503, json={"detail": "down"})
        parts = request.url.path.strip("/").split("/")
        if parts[:3] == ["v1", "routing", "resolutions"] and request.method == "POST":
            questions = json.loads(request.content)["questions"]
            self.questions.append([(q["category"], q.get("cell")) for q in questions])
            answers = []
            for question in questions:
                resolution = self.resolution(question["category"], question.get("cell"))
                unknown = None if resolution else "unknown category or cell"
                answers.append(question | {"resolution": resolution, "unknown": unknown})
            return httpx.Response(200, json={"answers": answers})
        if parts == ["v1", "departments"]:  # one page: the fake has few
            retired = request.url.params.get("retired") == "true"
            items = [d for d in self.departments.values() if bool(d.get("retired_at")) == retired]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if parts == ["v1", "regions"]:
            return self.region_page(request.url.params)
        if parts[:2] == ["v1", "departments"] and parts[2] in self.departments:
            return httpx.Response(200, json=self.departments[parts[2]])
        if parts[:2] == ["v1", "catalog"] and parts[2] in self.categories:
            return httpx.Response(200, json=self.categories[parts[2]])
        return problem(404, f"nothing at {request.url.path}")

    def token(self, request: httpx.Request) -> httpx.Response:
        """The client-credentials grant, for dispatch only."""
        self.token_calls += 1
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        expected = {"grant_type": "client_credentials", "client_id": "dispatch"}
        if {k: form.get(k) for k in expected} != expected or form.get("client_secret") != self.client_secret:
            return problem(401, "invalid_client")
        actor = Actor(id=SERVICE, role=Role.service, scopes=["internal"])
        return httpx.Response(
            200, json={"access_token": tokens.token(actor), "token_type": "bearer", "expires_in": 900}
        )

    def region_page(self, params: httpx.QueryParams) -> httpx.Response:
        """``GET /v1/regions`` as grid pages it: of a ``level``, in use (or ``retired=true``,
        those retired), by code, ``limit`` a page (the cursor here is the last code)."""
        retired = params.get("retired") == "true"
        regions = sorted(
            (r for r in self.regions.values() if bool(r.get("retired_at")) == retired),
            key=lambda r: str(r["code"]),
        )
        level, after = params.get("level"), params.get("cursor", "")
        items = [r for r in regions if level in (None, r["level"]) and r["code"] > after]
        page = items[: int(params.get("limit", 20))]
        more = len(items) > len(page)
        return httpx.Response(200, json={"items": page, "next_cursor": page[-1]["code"] if more else None})

    def resolution(self, code: str, cell: str | None) -> dict[str, Any] | None:
        if code not in self.categories or (cell is not None and cell not in self.cells):
            return None
        entry = self.categories[code]
        override = self.overrides.get((code, cell or ""))
        department = override or entry["department_code"]
        body = {
            "category": entry,
            "department": {k: v for k, v in self.departments[department].items() if k != "phone"}
            if department
            else None,
            "source": "override" if override else ("catalog" if department else "none"),
            "region_code": cell if override else None,
        }
        return body


@dataclass
class FakeIntake:
    """Intake's inbox: records every batch and who sent it (the token's subject; anyone but
    ``service:dispatch`` gets a 401); answers ``status`` per message, or 503 while ``down``."""

    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    down: bool = False
    status: str = "accepted"

    callers: list[str | None] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/internal/v1/inbox"
        self.callers.append(caller(request))
        if self.callers[-1] != SERVICE:
            return problem(401, "dispatch's service token expected")
        if self.down:
            return httpx.Response(503, json={"detail": "down"})
        messages = json.loads(request.content)["messages"]
        self.batches.append(messages)
        return httpx.Response(
            200, json={"results": [{"key": m["key"], "status": self.status} for m in messages]}
        )

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [m for batch in self.batches for m in batch]
