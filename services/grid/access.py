"""grid's access policy: one table from route to who may call it, checked by one dependency.

Every router of the app is included under :func:`authorize`, which looks the matched route up
in :data:`POLICY`; a route missing from the table is refused (and fails the authorization
matrix test), so a new endpoint cannot ship without a rule.

The rules:

- public: the token endpoint, logout, JWKS, health probes and the docs;
- reads of the territory, regions, locate, departments, catalog and routing: any staff
  member and the services (intake keeps a copy of the cells, dispatch resolves routing and
  reads the catalog and departments). Integrations get nothing from grid: their scopes are
  about reports, which intake serves;
- staff list and detail: dispatchers, supervisors, admins and grid leaders; anyone may read
  their own record;
- every write (territory import, departments, catalog, routing overrides, staff, assignments,
  API keys): admins only; a password: admins, or the person themself with their current one;
- whether API keys are still active (``/internal/v1/key-states``): intake's service only, which
  stops delivering to the webhook of a key revoked or run out.
- the grid workers' daily logs (民情日志, ``/v1/patrol-logs``): grid workers and assistants write
  and correct their own; they, grid leaders, dispatchers, supervisors and admins read them, each
  what ``services/grid/logbook`` scopes them to; the check of who has not logged a day and
  the monthly figures per worker (网格员考核): grid leaders and the office. Handlers,
  integrations and services: none of it.
- how many active handlers a department has (``active_handlers``: handlers who can sign in):
  anyone who reads the departments, dispatch's service too (it warns of a case sent to a
  department with none), but an integration, which reads their names and no staff
  (:func:`sees_staffing`); routing answers carry it too, and no integration reads them.

No token (or a bad one) → 401; a role the rule does not name → 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.routing import BaseRoute

from services.grid.logbook import rules as logbook
from shared.access import refusal
from shared.actors import Actor, Role
from shared.auth import TokenVerifier, bearer_scheme
from shared.errors import Forbidden, Unauthorized

STAFF_ROLES = frozenset(
    {
        Role.grid_leader,
        Role.grid_worker,
        Role.grid_assistant,
        Role.dispatcher,
        Role.handler,
        Role.supervisor,
        Role.admin,
    }
)


@dataclass(frozen=True)
class Rule:
    """Who may call a route: ``roles``, the services named in ``services`` (by token subject,
    ``service:intake``), plus whoever a path parameter names (``self_param``).
    ``roles=None`` is a public route."""

    roles: frozenset[Role] | None
    self_param: str | None = None
    services: frozenset[str] = frozenset()

    @property
    def public(self) -> bool:
        return self.roles is None

    def allows(self, actor: Actor, path_params: dict[str, str]) -> bool:
        if self.roles is not None and actor.role in self.roles:
            return True
        if actor.role is Role.service and actor.id in self.services:
            return True
        return self.self_param is not None and path_params.get(self.self_param) == actor.id


PUBLIC = Rule(None)
READERS = Rule(STAFF_ROLES | {Role.service})
REPORTERS_REFERENCE = Rule(STAFF_ROLES | {Role.service, Role.integration})
"""What anyone filing a report needs, a chat bot included: the catalog's codes and names, the
departments' names, whether a point lies in the territory (not the staff, nor the regions' shapes)."""
ADMIN = Rule(frozenset({Role.admin}))
STAFF_READERS = frozenset({Role.dispatcher, Role.supervisor, Role.admin, Role.grid_leader})
ADMIN_OR_SELF = Rule(frozenset({Role.admin}), self_param="username")
INTAKE_SERVICE = Rule(frozenset(), services=frozenset({"service:intake"}))

POLICY: dict[tuple[str, str], Rule] = {
    # public
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("POST", "/v1/auth/token"): PUBLIC,
    ("POST", "/v1/auth/logout"): PUBLIC,
    ("GET", "/.well-known/jwks.json"): PUBLIC,
    # the territory
    ("POST", "/v1/regions/import"): ADMIN,
    ("GET", "/v1/regions"): READERS,
    ("GET", "/v1/regions/{code}"): READERS,
    ("GET", "/v1/locate"): REPORTERS_REFERENCE,
    ("GET", "/v1/territory/cells"): READERS,
    # departments and the catalog
    ("GET", "/v1/departments"): REPORTERS_REFERENCE,
    ("GET", "/v1/departments/{code}"): REPORTERS_REFERENCE,
    ("POST", "/v1/departments"): ADMIN,
    ("PATCH", "/v1/departments/{code}"): ADMIN,
    ("GET", "/v1/catalog"): REPORTERS_REFERENCE,
    ("GET", "/v1/catalog/{code}"): REPORTERS_REFERENCE,
    ("POST", "/v1/catalog"): ADMIN,
    ("PATCH", "/v1/catalog/{code}"): ADMIN,
    # routing
    ("GET", "/v1/routing/resolve"): READERS,
    ("POST", "/v1/routing/resolutions"): READERS,
    ("GET", "/v1/routing/overrides"): READERS,
    ("POST", "/v1/routing/overrides"): ADMIN,
    ("GET", "/v1/routing/overrides/{override_id}"): READERS,
    ("DELETE", "/v1/routing/overrides/{override_id}"): ADMIN,
    # staff
    ("GET", "/v1/staff"): Rule(STAFF_READERS),
    ("GET", "/v1/staff/{username}"): Rule(STAFF_READERS, self_param="username"),
    ("POST", "/v1/staff"): ADMIN,
    ("PATCH", "/v1/staff/{username}"): ADMIN,
    ("PUT", "/v1/staff/{username}/assignments"): ADMIN,
    ("PUT", "/v1/staff/{username}/password"): ADMIN_OR_SELF,
    # the daily log (民情日志)
    ("GET", "/v1/patrol-logs"): Rule(logbook.READERS),
    ("POST", "/v1/patrol-logs"): Rule(logbook.WRITERS),
    ("GET", "/v1/patrol-logs/missing"): Rule(logbook.ASSESSORS),
    ("GET", "/v1/patrol-logs/figures"): Rule(logbook.ASSESSORS),
    ("GET", "/v1/patrol-logs/{log_id}"): Rule(logbook.READERS),
    ("PATCH", "/v1/patrol-logs/{log_id}"): Rule(logbook.WRITERS),
    # API keys
    ("GET", "/v1/keys"): ADMIN,
    ("GET", "/v1/keys/{key_id}"): ADMIN,
    ("POST", "/v1/keys"): ADMIN,
    ("DELETE", "/v1/keys/{key_id}"): ADMIN,
    ("GET", "/internal/v1/key-states"): INTAKE_SERVICE,
}


def rule_for(method: str, route: BaseRoute | None) -> Rule | None:
    path = getattr(route, "path", None)
    return POLICY.get((method, path)) if isinstance(path, str) else None


async def authorize(request: Request, token: Annotated[str | None, Depends(bearer_scheme)]) -> Actor | None:
    """Check the matched route's rule; the verified actor, or None on a public route."""
    rule = rule_for(request.method, request.scope.get("route"))
    if rule is None:
        raise Forbidden("this route has no access rule")
    if rule.public:
        return None
    if not token:
        raise Unauthorized("send Authorization: Bearer <token>; get one at POST /v1/auth/token")
    verifier: TokenVerifier = request.state.verifier
    actor = await verifier.verify(token)
    if not rule.allows(actor, request.path_params):
        raise Forbidden(refusal(actor.role.value, request.method, rule_path(request)))
    return actor


def rule_path(request: Request) -> str:
    return str(getattr(request.scope.get("route"), "path", request.url.path))


def sees_staffing(actor: Actor) -> bool:
    """Whether the departments ``actor`` reads show how many active handlers each has."""
    return actor.role is not Role.integration


async def require_actor(actor: Annotated[Actor | None, Depends(authorize)]) -> Actor:
    """The actor :func:`authorize` verified (cached per request, so tokens are checked once)."""
    if actor is None:
        raise Unauthorized("send Authorization: Bearer <token>; get one at POST /v1/auth/token")
    return actor
