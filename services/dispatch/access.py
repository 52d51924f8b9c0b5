"""Who may call what in dispatch, and which cases each caller may see: the one place.

:data:`POLICY` maps every route (method, path template) to a :class:`~shared.access.Rule`;
:data:`GUARD` checks it on every router of dispatch and is the actor its routes take: the
caller's token is verified (no token or a bad one → 401), then a caller the rule does not
name gets 403. A route without an entry refuses everyone, and the authorization-matrix test fails.

:func:`case_scope` is the object scope of a case as a SQL condition. The console list adds
it to its query, so a list never holds a case its reader may not see, and every single-case
read or command fetches the case through it, so a case outside it is a 404 (its existence is
not revealed). The role check comes first: an action outside one's role is a 403 even on a
case one cannot see.

Who sees which case:

- dispatchers, supervisors and admins: every case (the whole subdistrict);
- handlers: the cases currently dispatched to their department;
- grid workers, assistants and leaders: cases whose grid cell is in their regions (a
  leader's community code covers its cells), and every case they reported on;
- integrations: the cases of the reports they filed;
- services: none (they call only the internal routes).

A reader who sees a case only as one of its reporters (an integration always; a grid worker
outside their regions) reads it as its reporter (:func:`sees_whole_case`): their own reports
on it, not the other reporters' (a merchant group's bot is not to read what a grid worker or
another group filed).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.params import Depends as DependsParam
from sqlalchemy import ColumnElement, exists, false, or_, true

from services.dispatch.models import Case, CaseReport
from shared.access import METRICS_ROUTE, PUBLIC_ROUTES, REPORTS_CREATE, REPORTS_READ, Guard, Rule
from shared.actors import GRID_ROLES, SUBDISTRICT_ROLES, Actor, Role
from shared.regions import held_by

INTAKE_SERVICE = "service:intake"


OFFICE = frozenset({Role.dispatcher, Role.supervisor})
"""Dispatch, reject, reassign, close: the back office (admins read, they do not dispatch)."""
HANDLERS = frozenset({Role.handler})
STAFF = GRID_ROLES | {Role.handler, Role.dispatcher, Role.supervisor, Role.admin}
READ = Rule(roles=STAFF, scopes=frozenset({REPORTS_READ}))

_CASE = "/v1/cases/{case_id}"

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/v1/calendar/{year}"): Rule(roles=STAFF),
    ("PUT", "/v1/calendar/{year}"): Rule(roles=frozenset({Role.admin})),
    ("GET", "/v1/cases"): READ,
    ("GET", "/v1/cases/map"): READ,
    ("GET", "/v1/figures"): Rule(roles=STAFF),
    ("GET", _CASE): READ,
    ("POST", f"{_CASE}/dispatch"): Rule(roles=OFFICE),
    ("POST", f"{_CASE}/reject"): Rule(roles=OFFICE),
    ("POST", f"{_CASE}/reassign"): Rule(roles=OFFICE),
    ("POST", f"{_CASE}/close"): Rule(roles=OFFICE),
    ("POST", f"{_CASE}/urge"): Rule(roles=OFFICE),
    ("POST", f"{_CASE}/extend"): Rule(roles=OFFICE),
    ("POST", f"{_CASE}/extension-refusal"): Rule(roles=OFFICE),
    ("POST", f"{_CASE}/extension-request"): Rule(roles=HANDLERS),
    ("POST", f"{_CASE}/accept"): Rule(roles=HANDLERS),
    ("POST", f"{_CASE}/return"): Rule(roles=HANDLERS),
    ("POST", f"{_CASE}/resolve"): Rule(roles=HANDLERS),
    ("POST", f"{_CASE}/verify"): Rule(roles=GRID_ROLES),
    ("POST", f"{_CASE}/notes"): Rule(roles=STAFF),
    # Anyone who may have reported; the service then refuses (403) one who reported nothing on it.
    ("POST", f"{_CASE}/feedback"): Rule(roles=STAFF, scopes=frozenset({REPORTS_CREATE})),
    ("POST", "/internal/v1/inbox"): Rule(services=frozenset({INTAKE_SERVICE})),
    ("POST", "/internal/v1/named-photos"): Rule(services=frozenset({INTAKE_SERVICE})),
    **PUBLIC_ROUTES,
    **METRICS_ROUTE,
}


GUARD = Guard(POLICY)
GUARDED: list[DependsParam] = [Depends(GUARD)]
"""``dependencies=`` of every dispatch router."""
CurrentActor = Annotated[Actor, Depends(GUARD)]
"""The caller of a dispatch route, verified and allowed by the route's rule."""


NAMED_TO_REPORTERS = frozenset(role.value for role in (*SUBDISTRICT_ROLES, Role.handler, Role.service))
"""Whose events every reporter of a case reads with their actor and note (the timeline of a
reporter-only reader, the status messages to intake): the office, the handlers, the system;
not the other reporters, nor a grid worker's own notes (grid roles, integrations)."""


def reported_by(actor: Actor) -> ColumnElement[bool]:
    """The case holds a report filed by ``actor``."""
    return exists().where(CaseReport.case_id == Case.id, CaseReport.reporter_id == actor.id)


def sees_whole_case(actor: Actor, case: Case) -> bool:
    """Whether ``actor`` sees ``case`` for their work, not only as one of its reporters: the
    rules of :func:`case_scope` but ``reported_by``, for a case already read inside it."""
    if actor.sees_subdistrict:
        return True
    if actor.role is Role.handler:
        return actor.department is not None and case.department_code == actor.department
    if actor.role in GRID_ROLES:
        return actor.in_region(case.grid_cell)
    return False


def case_scope(actor: Actor) -> ColumnElement[bool]:
    """The cases ``actor`` may see, as a condition on :class:`Case` (see the module text)."""
    if actor.sees_subdistrict:
        return true()
    if actor.role is Role.handler:
        return Case.department_code == actor.department if actor.department else false()
    if reaches_as_reporter(actor):
        return or_(whole_case_scope(actor), reported_by(actor))
    return false()


def figures_scope(actor: Actor) -> ColumnElement[bool]:
    """The cases ``actor``'s figures count: those they see whole (a grid role: their regions'
    cells, not the cases elsewhere they only reported on)."""
    if actor.sees_subdistrict or actor.role is Role.handler:
        return case_scope(actor)
    return whole_case_scope(actor)


def whole_case_scope(actor: Actor) -> ColumnElement[bool]:
    """:func:`sees_whole_case` as a condition on :class:`Case`, for a grid role or an
    integration (the others see whole every case of their scope): the cases of their regions."""
    cells = [held_by(Case.grid_cell, region) for region in actor.regions if region]
    return or_(*cells) if cells and actor.role in GRID_ROLES else false()


def reaches_as_reporter(actor: Actor) -> bool:
    """Whether some case may reach ``actor`` only as one of its reporters."""
    return actor.role in GRID_ROLES or actor.role is Role.integration
