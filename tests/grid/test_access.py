"""grid's authorization matrix, generated from the app's routes.

Every route × every role (and no token): public routes never answer 401/403; otherwise
no token → 401, a role the policy does not name → 403, a role it names → neither (a 2xx,
or a 404/422… about the request itself). A route missing from the policy fails here.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import iter_route_contexts

from services.grid.access import POLICY, authorize
from services.grid.app import create_app
from services.grid.settings import GridSettings
from shared.actors import Actor, Role
from tests.grid.conftest import Bearer

# A value for each path parameter, by route prefix (objects need not exist: 404 is not 401/403).
PATH_VALUES = {
    "/v1/regions/{code}": {"code": "35020300100101"},
    "/v1/departments/{code}": {"code": "police"},
    "/v1/catalog/{code}": {"code": "0501"},
    "/v1/routing/overrides/{override_id}": {"override_id": "1"},
    "/v1/keys/{key_id}": {"key_id": "ak_0000000000000000"},
    "/v1/patrol-logs/{log_id}": {"log_id": "1"},
}
QUERIES = {
    "/v1/locate": {"lat": "24.45", "lon": "118.07"},
    "/v1/routing/resolve": {"category": "0501"},
    "/internal/v1/key-states": {"id": "ak_0000000000000000"},
}


def routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, str(route.path)))
    return found


def actor_id(role: Role) -> str:
    """The subject of ``bearer(role)``'s token (the ``bearer`` fixture's default)."""
    return "service:intake" if role is Role.service else f"test.{role.value}"


def concrete(path: str, username: str) -> str:
    values = next((v for prefix, v in PATH_VALUES.items() if path.startswith(prefix)), {})
    values = {**values, "username": username}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], username: str = "someone"
) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": headers, "params": QUERIES.get(path, {})}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return await client.request(method, concrete(path, username), **kwargs)


def test_every_route_has_a_rule(tmp_path: Any) -> None:
    app = create_app(GridSettings(environment="test", data_dir=tmp_path))
    found = routes(app)
    missing = [route for route in found if route not in POLICY]
    assert not missing, f"routes without an access rule in services/grid/access.py: {missing}"
    assert len(found) >= 30
    stale = set(POLICY) - set(found)
    assert not stale, f"rules for routes that do not exist: {stale}"


async def test_the_authorization_matrix(
    grid_app: FastAPI, anonymous: httpx.AsyncClient, bearer: Bearer
) -> None:
    wrong: list[str] = []
    for method, path in routes(grid_app):
        rule = POLICY[(method, path)]
        anonymous_answer = await call(anonymous, method, path, {})
        if rule.public:
            if anonymous_answer.status_code in (401, 403) or anonymous_answer.status_code >= 500:
                wrong.append(f"{method} {path} public: {anonymous_answer.status_code}")
            continue
        if anonymous_answer.status_code != 401:
            wrong.append(f"{method} {path} without a token: {anonymous_answer.status_code}")
        for role in Role:
            answer = await call(anonymous, method, path, bearer(role))
            allowed = rule.allows(Actor(id=actor_id(role), role=role), {})
            if allowed and (answer.status_code in (401, 403) or answer.status_code >= 500):
                wrong.append(f"{method} {path} as {role.value}: {answer.status_code} (allowed)")
            if not allowed and answer.status_code != 403:
                wrong.append(f"{method} {path} as {role.value}: {answer.status_code} (expected 403)")
            if rule.self_param and role is not Role.service and role is not Role.integration:
                themself = await call(anonymous, method, path, bearer(role, id="self.user"), "self.user")
                if themself.status_code in (401, 403) or themself.status_code >= 500:
                    wrong.append(f"{method} {path} as {role.value} on themself: {themself.status_code}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", [Role.grid_worker, Role.handler, Role.service])
async def test_readers_read_the_territory_and_catalog_with_2xx(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, bearer: Bearer, role: Role
) -> None:
    for path in (
        "/v1/regions",
        "/v1/territory/cells",
        "/v1/departments",
        "/v1/catalog",
        "/v1/routing/overrides",
    ):
        assert (await anonymous.get(path, headers=bearer(role))).status_code == 200, path


async def test_an_integration_reads_the_catalog_departments_and_locate_but_not_the_territory(
    anonymous: httpx.AsyncClient, bearer: Bearer
) -> None:
    """A chat bot files reports with catalog codes at points in the territory: it reads those
    (it got 403 and had to hard-code the codes), and neither the staff nor the regions."""
    bot = bearer(Role.integration)
    for path in ("/v1/catalog", "/v1/departments"):
        assert (await anonymous.get(path, headers=bot)).status_code == 200, path
    located = await anonymous.get("/v1/locate?lat=24.4512&lon=118.0823", headers=bot)
    assert located.status_code == 200 or located.json()["type"].endswith("outside-territory"), located.text
    for path in ("/v1/regions", "/v1/territory/cells", "/v1/staff"):
        assert (await anonymous.get(path, headers=bot)).status_code == 403, path


async def test_a_refusal_names_the_role_with_its_article(
    anonymous: httpx.AsyncClient, bearer: Bearer
) -> None:
    """As intake and dispatch name it: grid said 'a integration may not GET /v1/staff'."""
    bot = await anonymous.get("/v1/staff", headers=bearer(Role.integration))
    assert bot.status_code == 403
    assert bot.json()["detail"] == "an integration may not call GET /v1/staff"
    worker = await anonymous.post("/v1/departments", json={}, headers=bearer(Role.grid_worker))
    assert worker.status_code == 403
    assert worker.json()["detail"] == "a grid_worker may not call POST /v1/departments"


async def test_a_route_without_a_rule_is_refused_even_to_an_admin(tmp_path: Any) -> None:
    app = create_app(
        GridSettings(
            environment="test", data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/g.db"
        )
    )
    extra = APIRouter(dependencies=[Depends(authorize)])

    @extra.get("/v1/unlisted")
    async def unlisted() -> dict[str, str]:
        return {"leaked": "yes"}

    app.include_router(extra)
    async with LifespanManager(app) as manager:
        token = app.state.identity.issuer.issue(Actor(id="pan.jun", role=Role.admin)).token
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://grid") as client:
            response = await client.get("/v1/unlisted", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "no access rule" in response.json()["detail"]
