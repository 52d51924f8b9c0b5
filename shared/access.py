"""The machinery of a service's access policy; each service's ``access.py`` holds the table.

A policy maps every route (method, path template) to a :class:`Rule`. A :class:`Guard` over
the policy is the dependency a service attaches to every router and the one its routes take
as their actor: once the caller's token is verified (no token or a bad one → 401), a caller
the route's rule does not name gets 403, and so does everyone on a route missing from the
table — which the authorization-matrix tests catch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Request
from fastapi.security import OAuth2PasswordBearer
from starlette.routing import Route

from shared.actors import Actor, Role
from shared.auth import TOKEN_PATH, TokenVerifier
from shared.errors import Forbidden, Unauthorized

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
METRICS_ROUTE: dict[tuple[str, str], Rule] = {("GET", "/metrics"): PUBLIC}
"""intake's and dispatch's outbox gauges (``shared/metrics.py``): public like the health
probes, for they hold counts only and a scraper holds no token that lives fifteen minutes."""


class Guard(OAuth2PasswordBearer):
    """The verified caller of a route whose rule names them: a service's access dependency.

    It is the OAuth2 password flow the OpenAPI declares (so /docs has Authorize) and takes
    nothing but the request, so FastAPI solves it once per request however many times a
    router's ``dependencies`` and a route's actor parameter name it (a dependency that has
    dependencies of its own is walked again at every mention, cached or not).
    """

    missing_token = f"send Authorization: Bearer <token>; grid issues tokens at {TOKEN_PATH}"

    def __init__(self, policy: Mapping[tuple[str, str], Rule]) -> None:
        super().__init__(tokenUrl=TOKEN_PATH, scheme_name="OAuth2PasswordBearer", auto_error=False)
        self.policy = policy

    async def __call__(self, request: Request) -> Actor:  # type: ignore[override]
        token = await self.access_token(request)
        if not token:
            raise Unauthorized(self.missing_token)
        verifier: TokenVerifier = request.state.verifier
        actor = await verifier.verify(token)
        route = request.scope.get("route")
        template = route.path_format if isinstance(route, Route) else request.scope["path"]
        rule = self.policy.get((request.method, template))
        if rule is None:
            raise Forbidden(f"{request.method} {template} has no access rule; nobody may call it")
        if not rule.allows(actor):
            refused = refusal(actor.role.value, request.method, template)
            if actor.role is Role.integration and rule.scopes:
                held = ", ".join(actor.scopes) or "none"
                refused += f": its key needs the scope {' or '.join(sorted(rule.scopes))} (it has {held})"
            raise Forbidden(refused)
        return actor

    async def access_token(self, request: Request) -> str | None:
        """The caller's token: ``Authorization: Bearer``."""
        return await super().__call__(request)


def refusal(role: str, method: str, path: str) -> str:
    """A 403's detail, the same in the three services: ``an admin may not call POST /v1/…``."""
    return f"{_article(role)} {role} may not call {method} {path}"


def _article(word: str) -> str:
    """``a dispatcher``, ``an admin``, ``an integration``."""
    return "an" if word[:1] in "aeiou" else "a"
