"""The authorization matrix of dispatch, generated from ``app.routes``.

Every route × every role (and no token at all) × a case in and a case out of the caller's
scope, against the status the rules give. Commands go without ``If-Match``: a caller the
rules let through reaches the ETag check, so "allowed" is a 428 and nothing changes (a note,
which needs no ``If-Match``, is sent with a stale one: a 412). A
route with no entry in ``services.dispatch.access.POLICY`` (or in :data:`SPEC` here, the
rules as the issue states them) fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from services.dispatch.access import POLICY
from services.dispatch.app import create_app
from services.dispatch.settings import DispatchSettings
from shared.actors import GRID_ROLES, Role
from shared.api import DOCS_ASSETS
from tests.dispatch import factories
from tests.dispatch.conftest import ADMIN, DISPATCHER, HANDLER, INTAKE, SUPERVISOR, WORKER, Dispatch
from tests.dispatch.fakes import CELL, COMMUNITY, FAR_CELL, FAR_COMMUNITY, MANHOLE
from tests.support.tokens import bearer, service_bearer

NEAR, FAR = 0.0002, 0.002
BOT = "integration:wechat-bot"

ACTORS: dict[Role, dict[str, str]] = {
    Role.grid_worker: WORKER,  # wang.fang, reporter of the in-scope case
    Role.grid_assistant: bearer("lin.na", Role.grid_assistant, regions=[CELL]),
    Role.grid_leader: bearer("zheng.wei", Role.grid_leader, regions=[COMMUNITY]),
    Role.dispatcher: DISPATCHER,
    Role.handler: HANDLER,  # enforcement, the in-scope case's department
    Role.supervisor: SUPERVISOR,
    Role.admin: ADMIN,
    Role.integration: bearer(
        BOT, Role.integration, scopes=["reports:create", "reports:read"], channel="wechat-bot"
    ),
    Role.service: INTAKE,
}
REPORTERS_OF_THE_CASE = {Role.grid_worker, Role.integration}
SEE_EVERY_CASE = {Role.dispatcher, Role.supervisor, Role.admin}
EVERYONE = frozenset(Role)
STAFF = EVERYONE - {Role.integration, Role.service}


@dataclass(frozen=True)
class Expect:
    """Who may call a route (else 403) and what kind of route it is."""

    roles: frozenset[Role]
    kind: str  # public | list | read | command | note | feedback | inbox
    body: Any = None


CASE = "/v1/cases/{case_id}"
SPEC: dict[tuple[str, str], Expect] = {
    ("GET", "/v1/calendar/{year}"): Expect(STAFF, "list"),
    ("PUT", "/v1/calendar/{year}"): Expect(frozenset({Role.admin}), "command", {"days": []}),
    ("GET", "/v1/cases"): Expect(EVERYONE - {Role.service}, "list"),
    ("GET", "/v1/cases/map"): Expect(EVERYONE - {Role.service}, "list"),
    ("GET", "/v1/figures"): Expect(STAFF, "list"),
    ("GET", CASE): Expect(EVERYONE - {Role.service}, "read"),
    ("POST", f"{CASE}/dispatch"): Expect(
        frozenset({Role.dispatcher, Role.supervisor}), "command", {"department_code": "works"}
    ),
    ("POST", f"{CASE}/reject"): Expect(
        frozenset({Role.dispatcher, Role.supervisor}), "command", {"reason": "void"}
    ),
    ("POST", f"{CASE}/reassign"): Expect(
        frozenset({Role.dispatcher, Role.supervisor}), "command", {"department_code": "works"}
    ),
    ("POST", f"{CASE}/close"): Expect(
        frozenset({Role.dispatcher, Role.supervisor}), "command", {"note": "x"}
    ),
    ("POST", f"{CASE}/urge"): Expect(frozenset({Role.dispatcher, Role.supervisor}), "note", {"note": "x"}),
    ("POST", f"{CASE}/extend"): Expect(
        frozenset({Role.dispatcher, Role.supervisor}), "command", {"hours": 4, "note": "x"}
    ),
    ("POST", f"{CASE}/extension-refusal"): Expect(
        frozenset({Role.dispatcher, Role.supervisor}), "command", {"note": "x"}
    ),
    ("POST", f"{CASE}/extension-request"): Expect(
        frozenset({Role.handler}), "note", {"hours": 4, "reason": "x"}
    ),
    ("POST", f"{CASE}/accept"): Expect(frozenset({Role.handler}), "command", {}),
    ("POST", f"{CASE}/return"): Expect(frozenset({Role.handler}), "command", {"reason": "x"}),
    ("POST", f"{CASE}/resolve"): Expect(frozenset({Role.handler}), "command", {"note": "x"}),
    ("POST", f"{CASE}/verify"): Expect(GRID_ROLES, "command", {"passed": True}),
    ("POST", f"{CASE}/notes"): Expect(STAFF, "note", {"note": "x"}),
    ("POST", f"{CASE}/feedback"): Expect(EVERYONE - {Role.service}, "feedback", {"rating": 5}),
    ("POST", "/internal/v1/inbox"): Expect(
        frozenset({Role.service}), "inbox", factories.batch({"report_id": "not-a-report"})
    ),
    ("POST", "/internal/v1/named-photos"): Expect(
        frozenset({Role.service}), "inbox", {"ids": ["5f0c8f6e-2b1d-4c59-9a53-0d1e6f7a8b90"]}
    ),
    **{
        ("GET", path): Expect(EVERYONE, "public")
        for path in (
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/docs",
            "/docs/oauth2-redirect",
            "/redoc",
            "/metrics",
        )
    },
}


def expected(spec: Expect, role: Role | None, in_scope: bool) -> int:
    if spec.kind == "public":
        return 200
    if role is None:
        return 401
    if role not in spec.roles:
        return 403
    if spec.kind in ("list", "inbox"):
        return 200
    sees = in_scope or role in SEE_EVERY_CASE
    if spec.kind == "read":
        return 200 if sees else 404
    if not sees:
        return 404
    if spec.kind == "feedback" and not (in_scope and role in REPORTERS_OF_THE_CASE):
        return 403
    return 412 if spec.kind == "note" else 428


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every HTTP route of the app, included routers flattened."""
    found = []
    for route in iter_route_contexts(app.routes):
        if route.path_format == f"{DOCS_ASSETS}/{{path}}":
            continue  # /docs' static scripts (StaticFiles, no guard): public, tried in test_docs_assets
        assert route.path_format is not None and route.methods, f"not an HTTP route: {route.original_route}"
        found += [(method, route.path_format) for method in sorted(route.methods) if method != "HEAD"]
    assert len(found) >= len(SPEC), "the route walk missed routes"
    return found


async def two_cases(dispatch: Dispatch) -> tuple[int, int]:
    """In scope of every role's actor above: a stall in ``CELL`` for enforcement, reported by
    wang.fang and the chat bot. Out of scope (but for the subdistrict roles): a manhole in
    another community for municipal works, reported by someone else."""
    mine = factories.report()
    await dispatch.deliver(
        mine, factories.report(lat=factories.LAT + NEAR, reporter_id=BOT, channel="wechat-bot")
    )
    other = factories.report(
        category=MANHOLE,
        grid_cell=FAR_CELL,
        community=FAR_COMMUNITY,
        lat=factories.LAT + FAR,
        reporter_id="chen.li",
    )
    await dispatch.deliver(other)
    return (await dispatch.case_of(mine["report_id"]))["id"], (await dispatch.case_of(other["report_id"]))[
        "id"
    ]


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    found = routes(create_app(DispatchSettings(client_secret="unused")))
    assert [r for r in found if r not in POLICY] == []
    assert [r for r in found if r not in SPEC] == []
    assert sorted(set(POLICY) - set(found)) == []


async def test_the_authorization_matrix(dispatch: Dispatch) -> None:
    inside, outside = await two_cases(dispatch)
    before = [(await dispatch.read(cid))["version"] for cid in (inside, outside)]
    wrong: list[tuple[str, str, str, str, int, int]] = []
    checked = 0
    for method, path in routes(dispatch.app):
        spec = SPEC[(method, path)]
        for role in [None, *Role]:
            headers = ACTORS[role] if role is not None else {}
            if spec.kind == "note":  # a note needs no If-Match: a stale one stops it at the check
                headers = {**headers, "If-Match": '"0"'}
            for in_scope, case_id in ((True, inside), (False, outside)):
                url = path.replace("{case_id}", str(case_id)).replace("{year}", "2026")
                response = await dispatch.client.request(method, url, headers=headers, json=spec.body)
                want = expected(spec, role, in_scope)
                checked += 1
                if response.status_code != want:
                    scope = "in" if in_scope else "out"
                    who = role.value if role else "anonymous"
                    wrong.append((method, path, who, scope, want, response.status_code))
    assert wrong == []
    assert checked == len(SPEC) * (len(Role) + 1) * 2
    assert [(await dispatch.read(cid))["version"] for cid in (inside, outside)] == before


async def test_an_integration_without_the_scope_is_refused(dispatch: Dispatch) -> None:
    inside, _ = await two_cases(dispatch)
    creator = bearer(BOT, Role.integration, scopes=["reports:create"], channel="wechat-bot")
    reader = bearer(BOT, Role.integration, scopes=["reports:read"], channel="wechat-bot")
    assert (await dispatch.client.get("/v1/cases", headers=creator)).status_code == 403
    assert (await dispatch.client.get(f"/v1/cases/{inside}", headers=creator)).status_code == 403
    assert (await dispatch.client.get(f"/v1/cases/{inside}", headers=reader)).status_code == 200
    refused = await dispatch.client.post(f"/v1/cases/{inside}/feedback", json={"rating": 5}, headers=reader)
    assert refused.status_code == 403


async def test_a_refusal_names_the_role_with_its_article(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    extend = await dispatch.client.post(
        f"/v1/cases/{case['id']}/extend",
        json={"hours": 4, "note": "同意延期"},
        headers={**ADMIN, "If-Match": "*"},
    )
    assert extend.status_code == 403
    assert extend.json()["detail"] == "an admin may not call POST /v1/cases/{case_id}/extend"
    calendar = await dispatch.client.put(
        "/v1/calendar/2026", json={"days": []}, headers={**DISPATCHER, "If-Match": '"0"'}
    )
    assert calendar.status_code == 403
    assert calendar.json()["detail"] == "a dispatcher may not call PUT /v1/calendar/{year}"


async def test_only_intake_may_use_the_inbox(dispatch: Dispatch) -> None:
    body = factories.batch({"report_id": "not-a-report"})
    for headers in (service_bearer("grid"), service_bearer("dispatch"), ACTORS[Role.integration]):
        assert (
            await dispatch.client.post("/internal/v1/inbox", json=body, headers=headers)
        ).status_code == 403
    assert (await dispatch.client.post("/internal/v1/inbox", json=body, headers=INTAKE)).status_code == 200
