"""Small stand-ins for intake's peers, served through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt

from shared.actors import Actor, Role
from shared.auth import JWKS_PATH, TOKEN_PATH
from shared.settings import ServiceSettings
from tests.support import tokens

INTAKE_SECRET = "intake-test-secret"
INTAKE_SERVICE = Actor(id="service:intake", role=Role.service, scopes=["internal"])

COMMUNITY_A = "350203001001"
COMMUNITY_B = "350203001002"
CELL_A1 = "35020300100101"
CELL_A2 = "35020300100102"
CELL_B1 = "35020300100201"

# Three 0.01° squares side by side along 24.45° N; a point's lon picks the cell.
POINT_IN_A1 = (24.455, 118.085)
POINT_IN_B1 = (24.455, 118.105)
POINT_OUTSIDE = (24.5, 118.5)


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def demo_cells() -> list[dict[str, Any]]:
    return [
        {
            "code": CELL_A1,
            "name": "镇海 1 号网格",
            "community_code": COMMUNITY_A,
            "community_name": "镇海",
            "geometry": square(118.08, 24.45),
        },
        {
            "code": CELL_A2,
            "name": "镇海 2 号网格",
            "community_code": COMMUNITY_A,
            "community_name": "镇海",
            "geometry": square(118.09, 24.45),
        },
        {
            "code": CELL_B1,
            "name": "仁安 1 号网格",
            "community_code": COMMUNITY_B,
            "community_name": "仁安",
            "geometry": square(118.10, 24.45),
        },
    ]


def service_caller(request: httpx.Request) -> str | None:
    """The subject of a valid test-signed bearer token on ``request``, else ``None``."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer":
        return None
    try:
        key = jwt.PyJWK(tokens.TEST_JWKS["keys"][0]).key
        claims = jwt.decode(value, key, algorithms=["EdDSA"], audience=tokens.AUDIENCE, issuer=tokens.ISSUER)
    except jwt.PyJWTError:
        return None
    return str(claims["sub"]) if claims.get("role") == Role.service else None


class FakeGrid:
    """grid as intake sees it.

    Identity: the test JWKS at ``JWKS_PATH`` and client-credentials tokens at ``TOKEN_PATH``
    (for intake's secret only); these stay up unless ``auth_down``. Territory:
    ``GET /v1/territory/cells`` for intake's service token, honouring ``If-None-Match``;
    ``down`` answers 503 there. ``calls`` counts territory requests, ``jwks_calls`` and
    ``token_calls`` the identity ones. Key states (``/internal/v1/key-states``): every key is
    active but those in ``key_states``; ``key_state_calls`` counts the requests.
    """

    def __init__(self) -> None:
        self.version = "v1"
        self.cells = demo_cells()
        self.down = False
        self.auth_down = False
        self.calls = 0
        self.not_modified = 0
        self.jwks_calls = 0
        self.token_calls = 0
        self.issued: list[str] = []
        self.api_keys: dict[str, Actor] = {}
        """Integration keys (``<id>.<secret>``) grid issued, and whom each signs in as."""
        self.secret = INTAKE_SECRET
        self.catalog = [
            {
                "code": "0101",
                "name_zh": "暴露垃圾",
                "name_en": "Exposed rubbish",
                "class_zh": "市容环境",
                "class_en": "City appearance",
                "urgency": "normal",
                "time_limit_hours": 24,
                "department_code": "sanitation",
            },
            {
                "code": "0501",
                "name_zh": "占道经营",
                "name_en": "Street stall blocking the road",
                "class_zh": "街面秩序",
                "class_en": "Street order",
                "urgency": "urgent",
                "time_limit_hours": 2,
                "department_code": "law-enforcement",
            },
        ]
        self.retired_catalog: list[dict[str, Any]] = []
        """The categories grid answers ``retired=true`` with."""
        self.key_states: dict[str, str] = {}
        """The state grid answers for a key id (active when not here)."""
        self.key_state_calls = 0
        self.catalog_calls = 0
        self.catalog_refused: int | None = None
        """A 4xx status the catalog answers intake with (its token refused), or None."""

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == JWKS_PATH:
            self.jwks_calls += 1
            return self._unavailable() if self.auth_down else httpx.Response(200, json=tokens.TEST_JWKS)
        if request.url.path == TOKEN_PATH and request.method == "POST":
            self.token_calls += 1
            return self._unavailable() if self.auth_down else self._token(request)
        if request.url.path == "/internal/v1/key-states":
            return self._key_states(request)
        self.calls += 1
        if self.down:
            return self._unavailable()
        if request.url.path == "/v1/catalog":
            return self._catalog_page(request)
        if request.url.path != "/v1/territory/cells":
            return httpx.Response(404, json={"status": 404, "detail": "no such path"})
        if service_caller(request) != "service:intake":
            return httpx.Response(401, json={"status": 401, "detail": "no service token"})
        etag = f'"{self.version}"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(
            200, json={"version": self.version, "cells": self.cells}, headers={"ETag": etag}
        )

    def _key_states(self, request: httpx.Request) -> httpx.Response:
        self.key_state_calls += 1
        if self.down:
            return self._unavailable()
        if service_caller(request) != "service:intake":
            return httpx.Response(401, json={"status": 401, "detail": "no service token"})
        items = [
            {
                "id": key_id,
                "state": self.key_states.get(key_id, "active"),
                "expires_at": None,
                "revoked_at": None,
            }
            for key_id in request.url.params.get_list("id")
        ]
        return httpx.Response(200, json={"items": items})

    def _catalog_page(self, request: httpx.Request) -> httpx.Response:
        """The catalog, a page of one category at a time (cursor: the index of the next)."""
        self.catalog_calls += 1
        if self.catalog_refused is not None:
            status = self.catalog_refused
            return httpx.Response(status, json={"status": status, "detail": "not for you"})
        catalog = self.retired_catalog if request.url.params.get("retired") == "true" else self.catalog
        at = int(request.url.params.get("cursor", "0"))
        following = str(at + 1) if at + 1 < len(catalog) else None
        return httpx.Response(200, json={"items": catalog[at : at + 1], "next_cursor": following})

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        expected = {"grant_type": "client_credentials", "client_id": "intake", "client_secret": self.secret}
        key = f"{form.get('client_id')}.{form.get('client_secret')}"
        if form == expected:
            actor = INTAKE_SERVICE
        elif form.get("grant_type") == "client_credentials" and key in self.api_keys:
            actor = self.api_keys[key]
        else:
            return httpx.Response(401, json={"status": 401, "detail": "invalid_client"})
        issued = tokens.token(actor)
        self.issued.append(issued)
        return httpx.Response(200, json={"access_token": issued, "token_type": "bearer", "expires_in": 900})

    @staticmethod
    def _unavailable() -> httpx.Response:
        return httpx.Response(503, json={"status": 503, "detail": "down"})


class FakeDispatch:
    """dispatch's inbox: records each message, answers duplicate for a report seen before; and
    its answer to which photos a case's timeline names: those in ``named_photos`` (the ids
    asked are kept in ``photos_asked``).

    ``mode``: ``"ok"``; ``"down"`` answers 503 without taking anything; ``"crash"`` takes the
    batch and then drops the connection before answering (the sender cannot know it landed).
    Only intake's service token gets in (else 401); tokens in ``revoked`` are refused too. A body
    over ``max_body_bytes`` (the services' default) is refused with 413, as dispatch refuses it.
    """

    max_body_bytes: int = ServiceSettings.model_fields["max_body_bytes"].default

    def __init__(self) -> None:
        self.mode = "ok"
        self.received: list[dict[str, Any]] = []
        self.answers: list[str] = []
        self.reject_categories: set[str] = set()
        self.calls = 0
        self.tokens_seen: list[str] = []
        self.revoked: set[str] = set()
        self.body_sizes: list[int] = []
        self.named_photos: set[str] = set()
        self.photos_asked: list[list[str]] = []

    @property
    def report_ids(self) -> list[str]:
        return [m["payload"]["report_id"] for m in self.received]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert request.url.path in ("/internal/v1/inbox", "/internal/v1/named-photos")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.tokens_seen.append(token)
        if service_caller(request) != "service:intake" or token in self.revoked:
            return httpx.Response(401, json={"status": 401, "detail": "bad token"})
        if self.mode == "down":
            return httpx.Response(503, json={"status": 503, "detail": "down"})
        if request.url.path == "/internal/v1/named-photos":
            asked = json.loads(request.content)["ids"]
            self.photos_asked.append(asked)
            return httpx.Response(200, json={"named": [i for i in asked if i in self.named_photos]})
        self.body_sizes.append(len(request.content))
        if len(request.content) > self.max_body_bytes:
            return httpx.Response(413, json={"status": 413, "detail": "request body too large"})
        results = []
        for message in json.loads(request.content)["messages"]:
            seen = message["payload"]["report_id"] in self.report_ids
            self.received.append(message)
            if message["payload"]["category"] in self.reject_categories:
                status = "rejected"
            else:
                status = "duplicate" if seen else "accepted"
            self.answers.append(status)
            results.append({"key": message["key"], "status": status, "detail": None})
        if self.mode == "crash":
            raise httpx.RemoteProtocolError("server disconnected without sending a response")
        return httpx.Response(200, json={"results": results})
