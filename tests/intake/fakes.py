"""Small stand-ins for intake's peers, served through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from typing import Any

import httpx

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


class FakeGrid:
    """grid's ``GET /v1/territory/cells``, honouring ``If-None-Match``; ``down`` answers 503."""

    def __init__(self) -> None:
        self.version = "v1"
        self.cells = demo_cells()
        self.down = False
        self.calls = 0
        self.not_modified = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            return httpx.Response(503, json={"status": 503, "detail": "down"})
        if request.url.path != "/v1/territory/cells":
            return httpx.Response(404, json={"status": 404, "detail": "no such path"})
        etag = f'"{self.version}"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(
            200, json={"version": self.version, "cells": self.cells}, headers={"ETag": etag}
        )


class FakeDispatch:
    """dispatch's inbox: records each message, answers duplicate for a report seen before.

    ``mode``: ``"ok"``; ``"down"`` answers 503 without taking anything; ``"crash"`` takes the
    batch and then drops the connection before answering (the sender cannot know it landed).
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.received: list[dict[str, Any]] = []
        self.answers: list[str] = []
        self.reject_categories: set[str] = set()
        self.calls = 0

    @property
    def report_ids(self) -> list[str]:
        return [m["payload"]["report_id"] for m in self.received]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert request.url.path == "/internal/v1/inbox"
        assert request.headers["X-Wangge-Actor"] == "service:intake"
        if self.mode == "down":
            return httpx.Response(503, json={"status": 503, "detail": "down"})
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
