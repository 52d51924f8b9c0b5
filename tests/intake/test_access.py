"""intake's authorization matrix: every route × every role × a report in and out of scope.

The routes come from the app itself, so a route added without an access rule (and without a
line here saying what each caller should get) fails. The expected statuses are written from
the rules of issue 3, not computed from ``services/intake/access.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.routing import iter_route_contexts

from services.intake.access import POLICY, can_read_report
from services.intake.app import create_app
from services.intake.models import Report
from services.intake.settings import IntakeSettings
from shared.actors import Actor, Role
from shared.api import DOCS_ASSETS
from tests.support.tokens import token

from .conftest import DISPATCH, Intake
from .factories import photo_bytes, report_body, status_changed
from .fakes import CELL_A1, CELL_B1, COMMUNITY_A, POINT_IN_A1, POINT_IN_B1

CREATE, READ = "reports:create", "reports:read"

PROFILES: dict[str, Actor] = {
    "grid_worker": Actor(id="wang.fang", role=Role.grid_worker, regions=[CELL_A1]),
    "grid_assistant": Actor(id="lin.na", role=Role.grid_assistant, regions=[CELL_A1]),
    "grid_leader": Actor(id="chen.gang", role=Role.grid_leader, regions=[COMMUNITY_A]),
    "dispatcher": Actor(id="hong.yi", role=Role.dispatcher),
    "handler": Actor(id="gao.peng", role=Role.handler, department="police"),
    "supervisor": Actor(id="zhuang.hui", role=Role.supervisor),
    "admin": Actor(id="pan.jun", role=Role.admin),
    "integration": Actor(
        id="integration:k1", role=Role.integration, scopes=[CREATE, READ], channel="wechat-bot"
    ),
    "integration_create_only": Actor(
        id="integration:k2", role=Role.integration, scopes=[CREATE], channel="merchant-app"
    ),
    "integration_no_scope": Actor(id="integration:k3", role=Role.integration, channel="other"),
    "service_dispatch": Actor(id="service:dispatch", role=Role.service, scopes=["internal"]),
    "service_grid": Actor(id="service:grid", role=Role.service, scopes=["internal"]),
}
IN, OUT = "in", "out"
OTHER_REPORTER = Actor(id="zhou.qi", role=Role.grid_worker)


@dataclass
class World:
    """The reports every caller is tried against: ``a1`` (cell A1, police), ``b1`` (cell B1,
    sanitation), both filed by someone else, and ``own`` filed by the integration ``k1``."""

    a1: str
    b1: str
    own: str
    photo: str = ""
    """A photo a grid worker uploaded: every staff member's to see."""
    own_photo: str = ""
    """A photo the integration ``k1`` uploaded."""

    def scoped(self, profile: str) -> dict[str, str]:
        """The report in the caller's scope and one outside it (for whom all is in scope, both in)."""
        if profile in {"dispatcher", "supervisor", "admin", "service_dispatch", "service_grid"}:
            return {IN: self.a1, OUT: self.b1}
        if profile.startswith("integration"):
            return {IN: self.own, OUT: self.a1}
        return {IN: self.a1, OUT: self.b1}  # grid staff by cell, the police handler by department


Request = tuple[str, str, dict[str, Any] | bytes | None]
Builder = Callable[[World, str, str], Request]


def get(path: str) -> Builder:
    return lambda world, profile, scope: ("GET", path, None)


def create(world: World, profile: str, scope: str) -> Request:
    return "POST", "/v1/reports", report_body(point=POINT_IN_A1 if scope == IN else POINT_IN_B1)


def read_one(world: World, profile: str, scope: str) -> Request:
    return "GET", f"/v1/reports/{world.scoped(profile)[scope]}", None


def upload_photo(world: World, profile: str, scope: str) -> Request:
    # in and out: two pictures, so that the second is no retry of the first
    return "POST", "/v1/photos", photo_bytes(color=(10, 10, 200) if scope == IN else (200, 10, 10))


def see_photo(suffix: str = "") -> Builder:
    def build(world: World, profile: str, scope: str) -> Request:
        theirs = world.own_photo if profile == "integration" and scope == IN else world.photo
        return "GET", f"/v1/photos/{theirs}{suffix}", None

    return build


def open311_file(world: World, profile: str, scope: str) -> Request:
    lat, lon = POINT_IN_A1 if scope == IN else POINT_IN_B1
    return "POST", "/open311/v2/requests.json", {"service_code": "0501", "lat": str(lat), "long": str(lon)}


def open311_read(world: World, profile: str, scope: str) -> Request:
    return "GET", f"/open311/v2/requests/{world.scoped(profile)[scope]}.json", None


def remove_photo(world: World, profile: str, scope: str) -> Request:
    # in: the grid worker's photo (tried after every reading of it); out: none such
    return "DELETE", f"/v1/photos/{world.photo if scope == IN else uuid.UUID(int=7)}", None


def deliver(world: World, profile: str, scope: str) -> Request:
    message = status_changed([str(uuid.uuid4())], event_id=1, status="triage")
    return "POST", "/internal/v1/inbox", {"messages": [message]}


def webhook(method: str, path: str = "/v1/webhook") -> Builder:
    def build(world: World, profile: str, scope: str) -> Request:
        return method, path, {"url": "https://bot.example.org/wangge"} if method == "PUT" else None

    return build


PUBLIC_PATHS = [
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/open311/discovery.json",
    "/metrics",
]
BUILDERS: dict[tuple[str, str], Builder] = {
    ("POST", "/v1/reports"): create,
    ("GET", "/v1/reports"): get("/v1/reports"),
    ("GET", "/v1/reports/{report_id}"): read_one,
    ("POST", "/v1/photos"): upload_photo,
    ("GET", "/v1/photos/{photo_id}"): see_photo(),
    ("GET", "/v1/photos/{photo_id}/thumbnail"): see_photo("/thumbnail"),
    ("DELETE", "/v1/photos/{photo_id}"): remove_photo,
    ("GET", "/open311/v2/services.json"): get("/open311/v2/services.json"),
    ("GET", "/open311/v2/services/{service_code}.json"): get("/open311/v2/services/0501.json"),
    ("POST", "/open311/v2/requests.json"): open311_file,
    ("GET", "/open311/v2/requests.json"): get("/open311/v2/requests.json"),
    ("GET", "/open311/v2/requests/{service_request_id}.json"): open311_read,
    ("POST", "/internal/v1/inbox"): deliver,
    ("PUT", "/v1/webhook"): webhook("PUT"),
    ("GET", "/v1/webhook"): webhook("GET"),
    ("POST", "/v1/webhook/secret"): webhook("POST", "/v1/webhook/secret"),
    ("DELETE", "/v1/webhook"): webhook("DELETE"),
    ("GET", "/v1/webhooks"): get("/v1/webhooks"),
    ("DELETE", "/v1/webhooks/{owner_id}"): webhook("DELETE", "/v1/webhooks/integration:nobody"),
    **{("GET", path): get(path) for path in PUBLIC_PATHS},
}
"""How the matrix calls each route, for a caller and an object in or out of its scope."""

GRID_STAFF = {"grid_worker", "grid_assistant", "grid_leader"}
STAFF = GRID_STAFF | {"dispatcher", "handler", "supervisor", "admin"}
REPORT_READERS = STAFF | {"integration"}


def expected(route: tuple[str, str], profile: str, scope: str) -> int:
    """The status the rules of issue 3 give ``profile`` on ``route`` for an object ``scope``."""
    method, path = route
    if route in {("GET", public) for public in PUBLIC_PATHS}:
        return 200
    if profile == "anonymous":
        return 401
    if route in {("POST", "/v1/reports"), ("POST", "/open311/v2/requests.json")}:
        return 201 if profile in GRID_STAFF | {"integration", "integration_create_only"} else 403
    if path.startswith("/open311/v2/services"):  # to file reports with, or to read them
        return 200 if profile in GRID_STAFF | {"integration", "integration_create_only"} else 403
    if route in {("GET", "/v1/reports"), ("GET", "/open311/v2/requests.json")}:
        return 200 if profile in GRID_STAFF | {"integration"} else 403
    if route in {
        ("GET", "/v1/reports/{report_id}"),
        ("GET", "/open311/v2/requests/{service_request_id}.json"),
    }:
        if profile not in REPORT_READERS:
            return 403
        everything = profile in {"dispatcher", "supervisor", "admin"}
        return 200 if scope == IN or everything else 404
    if route == ("POST", "/v1/photos"):
        return 201 if profile in STAFF | {"integration", "integration_create_only"} else 403
    if route == ("DELETE", "/v1/photos/{photo_id}"):  # admins only
        if profile != "admin":
            return 403
        return 204 if scope == IN else 404
    if path.startswith("/v1/photos/"):  # staff every photo, an integration its own only
        if profile not in REPORT_READERS:
            return 403
        return 200 if profile in STAFF or scope == IN else 404
    if route == ("POST", "/internal/v1/inbox"):
        return 200 if profile == "service_dispatch" else 403
    if path.startswith("/v1/webhooks"):  # the admin's view of every integration's
        if profile != "admin":
            return 403
        return 200 if method == "GET" else 404  # (no such integration's webhook)
    if path.startswith("/v1/webhook"):
        # only an integration that reads its reports; tried in the routes' order, in then out:
        # created then changed, read, rotated, removed then gone
        if profile != "integration":
            return 403
        if method == "PUT":
            return 201 if scope == IN else 200
        if method == "DELETE":
            return 204 if scope == IN else 404
        return 200
    raise AssertionError(f"no expectation for {method} {path}")


def app_routes() -> list[tuple[str, str]]:
    """(method, path template) of every HTTP route of intake, included routers flattened."""
    app = create_app(IntakeSettings(database_url="sqlite+aiosqlite://", background_tasks=False))
    found = []
    for route in iter_route_contexts(app.routes):
        if route.path_format == f"{DOCS_ASSETS}/{{path}}":
            continue  # /docs' static scripts (StaticFiles, no guard): public, tried in test_docs_assets
        assert route.path_format is not None and route.methods, f"not an HTTP route: {route.original_route}"
        found += [(method, route.path_format) for method in sorted(route.methods) if method != "HEAD"]
    return found


def test_every_route_has_an_access_rule_and_an_expectation() -> None:
    routes = app_routes()

    assert [r for r in routes if r not in POLICY] == [], "routes without an entry in access.POLICY"
    assert [r for r in routes if r not in BUILDERS] == [], "routes the matrix does not try"
    assert set(POLICY) == set(routes), "rules for routes that do not exist"


def test_every_role_is_in_the_matrix() -> None:
    assert {actor.role for actor in PROFILES.values()} == set(Role)


async def file(intake: Intake, actor: Actor, point: tuple[float, float], department: str) -> str:
    body = report_body(point=point)
    created = await intake.client.post("/v1/reports", json=body, headers=headers_for(actor))
    assert created.status_code == 201, created.text
    await intake.client.post(
        "/internal/v1/inbox",
        json={
            "messages": [
                status_changed([body["id"]], event_id=1, status="dispatched", department_code=department)
            ]
        },
        headers=DISPATCH,
    )
    return str(body["id"])


async def uploaded(intake: Intake, actor: Actor) -> str:
    answer = await intake.client.post(
        "/v1/photos", content=photo_bytes(), headers={**headers_for(actor), "Content-Type": "image/jpeg"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def headers_for(actor: Actor | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(actor)}"} if actor else {"Authorization": ""}


async def test_authorization_matrix(intake: Intake) -> None:
    world = World(
        a1=await file(intake, OTHER_REPORTER, POINT_IN_A1, "police"),
        b1=await file(intake, OTHER_REPORTER, POINT_IN_B1, "sanitation"),
        own=await file(intake, PROFILES["integration"], POINT_IN_B1, "sanitation"),
        photo=await uploaded(intake, OTHER_REPORTER),
        own_photo=await uploaded(intake, PROFILES["integration"]),
    )
    callers: dict[str, Actor | None] = {**PROFILES, "anonymous": None}
    filed: dict[str, set[str]] = {name: set() for name in callers}
    filed["integration"].add(world.own)
    mismatches = []
    tried = 0
    for route in app_routes():
        for name, actor in callers.items():
            for scope in (IN, OUT):
                method, url, body = BUILDERS[route](world, name, scope)
                if isinstance(body, bytes):
                    headers = {**headers_for(actor), "Content-Type": "image/jpeg"}
                    response = await intake.client.request(method, url, content=body, headers=headers)
                elif url.startswith("/open311/") and body is not None:  # a form, as Open311 sends
                    response = await intake.client.request(method, url, data=body, headers=headers_for(actor))
                else:
                    response = await intake.client.request(method, url, json=body, headers=headers_for(actor))
                want = expected(route, name, scope)
                tried += 1
                if response.status_code != want:
                    mismatches.append(
                        f"{name:24} {method} {url} ({scope}): {response.status_code}, want {want}"
                    )
                if response.status_code == 201 and route == ("POST", "/v1/reports"):
                    filed[name].add(body["id"] if isinstance(body, dict) else "")
                if response.status_code == 201 and route == ("POST", "/open311/v2/requests.json"):
                    filed[name].add(response.json()[0]["service_request_id"])
                if route == ("GET", "/v1/reports") and response.status_code == 200:
                    listed = {item["id"] for item in response.json()["items"]}
                    if not listed <= filed[name]:
                        mismatches.append(f"{name} lists reports it did not file: {listed - filed[name]}")

    assert mismatches == [], "\n".join(mismatches)
    assert tried == len(app_routes()) * len(callers) * 2


def test_a_report_is_seen_by_whom_the_rules_say() -> None:
    report = Report(reporter_id="zhou.qi", grid_cell=CELL_A1, department_code="police")

    def sees(**fields: Any) -> bool:
        return can_read_report(Actor(**fields), report)

    assert sees(id="zhou.qi", role=Role.grid_worker)  # its reporter
    assert sees(id="x", role=Role.grid_worker, regions=[CELL_A1])
    assert sees(id="x", role=Role.grid_leader, regions=[COMMUNITY_A])
    assert not sees(id="x", role=Role.grid_assistant, regions=[CELL_B1])
    assert not sees(id="x", role=Role.grid_worker)  # no cells assigned
    assert sees(id="x", role=Role.handler, department="police")
    assert not sees(id="x", role=Role.handler, department="sanitation")
    assert not sees(id="x", role=Role.handler)
    assert all(
        sees(id="x", role=role) for role in (Role.dispatcher, Role.supervisor, Role.admin, Role.service)
    )
    assert not sees(id="integration:k9", role=Role.integration, scopes=[READ])
    assert not can_read_report(
        Actor(id="x", role=Role.grid_worker, regions=[CELL_A1]),
        Report(reporter_id="zhou.qi", grid_cell=None, department_code=None),
    )


async def test_a_key_without_the_scope_a_route_needs_is_told_which(intake: Intake) -> None:
    """A chat bot whose key files reports only, setting its webhook, heard 'an integration may not
    call PUT /v1/webhook', as if no integration could: the key lacks reports:read."""
    filer = Actor(id="integration:k2", role=Role.integration, scopes=[CREATE], channel="wechat-bot")

    answer = await intake.client.put(
        "/v1/webhook", json={"url": "https://bot.example.cn/hook"}, headers=headers_for(filer)
    )

    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        "an integration may not call PUT /v1/webhook: its key needs the scope reports:read "
        "(it has reports:create)"
    )
    staff = await intake.client.put(
        "/v1/webhook", json={"url": "https://bot.example.cn/hook"}, headers=headers_for(PROFILES["handler"])
    )
    assert staff.json()["detail"] == "a handler may not call PUT /v1/webhook"
