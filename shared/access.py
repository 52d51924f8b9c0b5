"""The machinery of a service's access policy; each service's ``access.py`` holds the table.

A policy maps every route (method, path template) to a :class:`Rule`. :func:`guard` makes
the dependency a service attaches to every router: once the caller's token is verified
(no token or a bad one → 401), a caller the route's rule does not name gets 403, and so does
everyone on a route missing from the table — which the authorization-matrix tests catch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from shared.actors import Actor, Role
from shared.deps import CurrentActor
from shared.errors import Forbidden

REPORTS_CREATE = "reports:create"
"""An integration's scope to file reports (and rate the cases they became)."""
REPORTS_READ = "reports:read"
"""An integration's scope to read its own reports and their cases."""


@dataclass(frozen=True)
class Rule:
    """Who may call one route: staff ``roles``, integrations holding one of ``scopes``, the
    services named in ``services`` (by token subject); ``public`` routes need no token."""

    roles: frozenset[Role] = frozenset()
    scopes: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    public: bool = False

    def allows(self, actor: Actor) -> bool:
        if self.public:
            return True
        if actor.role is Role.integration:
            return any(actor.has_scope(scope) for scope in self.scopes)
        if actor.role is Role.service:
            return actor.id in self.services
        return actor.role in self.roles


PUBLIC = Rule(public=True)
PUBLIC_ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", path): PUBLIC
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
}
"""Health probes and the API's own documentation: every service's table includes them."""


def guard(policy: Mapping[tuple[str, str], Rule]) -> list[DependsParam]:
    """``dependencies=`` for every router of a service with this policy."""

    async def authorize(request: Request, actor: CurrentActor) -> Actor:
        """Refuse (403) a verified caller that the route's rule does not name."""
        route = request.scope.get("route")
        template = getattr(route, "path_format", request.url.path)
        rule = policy.get((request.method, template))
        if rule is None:
            raise Forbidden(f"{request.method} {template} has no access rule; nobody may call it")
        if not rule.allows(actor):
            raise Forbidden(f"a {actor.role.value} may not call {request.method} {template}")
        return actor

    return [Depends(authorize)]
