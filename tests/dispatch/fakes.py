"""Fakes of dispatch's peers, served through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

CELL = "35020300100101"
OTHER_CELL = "35020300100102"
COMMUNITY = "350203001001"

STALL = "0101"  # 占道经营 → law-enforcement squad
MANHOLE = "0203"  # 井盖缺失 → municipal works, urgent
OTHER = "0999"  # 其他: the catalog names no department

DEPARTMENTS: dict[str, dict[str, Any]] = {
    "enforcement": {
        "code": "enforcement",
        "name_zh": "执法中队",
        "name_en": "Enforcement squad",
        "phone": "110",
    },
    "works": {"code": "works", "name_zh": "市政所", "name_en": "Municipal works", "phone": "12319"},
    "market": {"code": "market", "name_zh": "工商所", "name_en": "Market supervision", "phone": "12315"},
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


@dataclass
class FakeGrid:
    """Answers routing, departments and catalog from dicts; ``down`` makes every call a 503."""

    categories: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            STALL: category(STALL, "占道经营", "enforcement", 24),
            MANHOLE: category(MANHOLE, "井盖缺失", "works", 4, "urgent"),
            OTHER: category(OTHER, "其他", None, 48),
        }
    )
    departments: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEPARTMENTS))
    overrides: dict[tuple[str, str], str] = field(default_factory=dict)
    cells: set[str] = field(default_factory=lambda: {CELL, OTHER_CELL})
    down: bool = False
    calls: list[str] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.url.path}?{request.url.query.decode()}")
        assert request.headers["X-Wangge-Actor"] == "service:dispatch"
        if self.down:
            return httpx.Response(503, json={"detail": "down"})
        parts = request.url.path.strip("/").split("/")
        if parts[:3] == ["v1", "routing", "resolve"]:
            return self.resolve(request.url.params.get("category", ""), request.url.params.get("cell"))
        if parts[:2] == ["v1", "departments"] and parts[2] in self.departments:
            return httpx.Response(200, json=self.departments[parts[2]])
        if parts[:2] == ["v1", "catalog"] and parts[2] in self.categories:
            return httpx.Response(200, json=self.categories[parts[2]])
        return problem(404, f"nothing at {request.url.path}")

    def resolve(self, code: str, cell: str | None) -> httpx.Response:
        if code not in self.categories or (cell is not None and cell not in self.cells):
            return problem(404, "unknown category or cell")
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
        return httpx.Response(200, json=body)


@dataclass
class FakeIntake:
    """Intake's inbox: records every batch; answers ``status`` per message, or 503 while ``down``."""

    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    down: bool = False
    status: str = "accepted"

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/internal/v1/inbox"
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
