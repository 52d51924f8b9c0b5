"""Who may call what in intake, and which reports and photos each caller may see: the one place.

:data:`POLICY` maps every route (method, path template) to a :class:`~shared.access.Rule`;
:data:`GUARD` checks it on every router of intake and is the actor its routes take: the
caller's token is verified (no token or a bad one → 401), then a caller the rule does not
name gets 403. A route without an entry refuses everyone, and the authorization-matrix test fails.

:func:`can_read_report` is the object scope of a report, :func:`can_read_photo` of a photo;
one outside it is a 404, so its existence is not revealed. The list of reports
(``GET /v1/reports``) holds only the caller's own reports, which are always inside it.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends
from fastapi.params import Depends as DependsParam

from services.intake.open311.keys import Open311Guard
from shared.access import METRICS_ROUTE, PUBLIC_ROUTES, REPORTS_CREATE, REPORTS_READ, Guard, Rule
from shared.actors import GRID_ROLES, Actor, Role

DISPATCH_SERVICE = "service:dispatch"


REPORT_READERS = GRID_ROLES | {Role.handler, Role.dispatcher, Role.supervisor, Role.admin}
STAFF = REPORT_READERS
"""Every staff role: each may upload a photo (a report's, a resolution's, a note's) and see one."""

POLICY: dict[tuple[str, str], Rule] = {
    ("POST", "/v1/reports"): Rule(roles=GRID_ROLES, scopes=frozenset({REPORTS_CREATE})),
    ("GET", "/v1/reports"): Rule(roles=GRID_ROLES, scopes=frozenset({REPORTS_READ})),
    ("GET", "/v1/reports/{report_id}"): Rule(roles=REPORT_READERS, scopes=frozenset({REPORTS_READ})),
    # an integration's own webhook: it tells what its reports hear, so reading them is the scope
    **{
        (method, path): Rule(scopes=frozenset({REPORTS_READ}))
        for method, path in (
            ("PUT", "/v1/webhook"),
            ("GET", "/v1/webhook"),
            ("DELETE", "/v1/webhook"),
            ("POST", "/v1/webhook/secret"),
        )
    },
    # photos: the reporters' of problems and every role's of the work on them; an integration
    # uploads with the scope it files reports with, and sees its own
    ("POST", "/v1/photos"): Rule(roles=STAFF, scopes=frozenset({REPORTS_CREATE})),
    ("GET", "/v1/photos/{photo_id}"): Rule(roles=STAFF, scopes=frozenset({REPORTS_READ})),
    ("GET", "/v1/photos/{photo_id}/thumbnail"): Rule(roles=STAFF, scopes=frozenset({REPORTS_READ})),
    ("DELETE", "/v1/photos/{photo_id}"): Rule(roles=frozenset({Role.admin})),
    # Open311 GeoReport v2: the same rules as the reports' own routes, but its discovery,
    # which a client reads before it has a key
    ("GET", "/open311/discovery.json"): Rule(public=True),
    ("GET", "/open311/v2/services.json"): Rule(
        roles=GRID_ROLES, scopes=frozenset({REPORTS_CREATE, REPORTS_READ})
    ),
    ("GET", "/open311/v2/services/{service_code}.json"): Rule(
        roles=GRID_ROLES, scopes=frozenset({REPORTS_CREATE, REPORTS_READ})
    ),
    ("POST", "/open311/v2/requests.json"): Rule(roles=GRID_ROLES, scopes=frozenset({REPORTS_CREATE})),
    ("GET", "/open311/v2/requests.json"): Rule(roles=GRID_ROLES, scopes=frozenset({REPORTS_READ})),
    ("GET", "/open311/v2/requests/{service_request_id}.json"): Rule(
        roles=REPORT_READERS, scopes=frozenset({REPORTS_READ})
    ),
    ("GET", "/v1/webhooks"): Rule(roles=frozenset({Role.admin})),
    ("DELETE", "/v1/webhooks/{owner_id}"): Rule(roles=frozenset({Role.admin})),
    ("POST", "/internal/v1/inbox"): Rule(services=frozenset({DISPATCH_SERVICE})),
    **PUBLIC_ROUTES,
    **METRICS_ROUTE,
}


GUARD = Guard(POLICY)
GUARDED: list[DependsParam] = [Depends(GUARD)]
"""``dependencies=`` of every intake router."""
CurrentActor = Annotated[Actor, Depends(GUARD)]
"""The caller of a intake route, verified and allowed by the route's rule."""
OPEN311_GUARD = Open311Guard(POLICY)
"""The same rules for Open311's routes, whose clients may send their integration's api_key
instead of a Bearer token."""
Open311Actor = Annotated[Actor, Depends(OPEN311_GUARD)]


class ReportScope(Protocol):
    reporter_id: str
    grid_cell: str | None
    department_code: str | None


def can_read_report(actor: Actor, report: ReportScope) -> bool:
    """Whether ``actor`` may see ``report``.

    Its reporter; grid workers, assistants and leaders when its cell is in their regions;
    handlers when it went to their department; dispatchers, supervisors, admins and services
    all; an integration only the reports it filed.
    """
    if actor.id == report.reporter_id:
        return True
    if actor.role in GRID_ROLES:
        return actor.in_region(report.grid_cell)
    if actor.role is Role.handler:
        return actor.department is not None and report.department_code == actor.department
    return actor.sees_subdistrict or actor.is_service


def can_read_photo(actor: Actor, *, uploader_id: str) -> bool:
    """Whether ``actor`` (one the route's rule lets in) may see a photo uploaded by ``uploader_id``.

    Staff see every photo: one reaches them on the reports and cases they read, and its id
    is random, so no other is found. An integration sees only those it uploaded: its key is
    a bot's, outside the office.
    """
    return actor.role is not Role.integration or actor.id == uploader_id


def report_channel(actor: Actor, default: str) -> str:
    """The channel a report came in by: the integration's, from its token; else ``default``."""
    return actor.channel or default
