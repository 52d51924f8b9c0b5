"""Who may have a department and which regions, by role: plain functions, no database.

- A handler belongs to exactly one department; nobody else has one.
- Grid workers and grid assistants are assigned grid cells; a grid leader is assigned
  communities (一长二员). Other roles work across the territory and take no assignment.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from services.grid.regions.codes import Level


class StaffRole(StrEnum):
    """Roles a person can hold (``shared.actors.Role`` without ``service`` and ``integration``)."""

    grid_leader = "grid_leader"
    grid_worker = "grid_worker"
    grid_assistant = "grid_assistant"
    dispatcher = "dispatcher"
    handler = "handler"
    supervisor = "supervisor"
    admin = "admin"


ASSIGNABLE_LEVEL = {
    StaffRole.grid_worker: Level.cell,
    StaffRole.grid_assistant: Level.cell,
    StaffRole.grid_leader: Level.community,
}


def department_problem(role: StaffRole, department_code: str | None) -> str | None:
    if role is StaffRole.handler and department_code is None:
        return "a handler needs a department (department_code)"
    if role is not StaffRole.handler and department_code is not None:
        return f"only handlers belong to a department, not a {role.value}"
    return None


def assignment_problem(role: StaffRole, levels: Mapping[str, Level]) -> str | None:
    """What is wrong with assigning regions (code → level) to someone of ``role``, if anything."""
    if not levels:
        return None
    wanted = ASSIGNABLE_LEVEL.get(role)
    if wanted is None:
        return f"a {role.value} takes no grid assignment"
    wrong = sorted(code for code, level in levels.items() if level is not wanted)
    if wrong:
        return f"a {role.value} is assigned {wanted.value} regions only; not {', '.join(wrong)}"
    return None
