"""The console's case list as a spreadsheet (``format=csv``): a row a case, in the list's order.

The columns are the list items' fields, named as in the JSON, less those only a program needs
(``version``, ``updated_at``, ``warn_at``, ``feedback_at``). Times are in the office's time zone,
RFC 3339 with their offset and to the second (``2026-12-05T08:30:00+08:00``), so that the
office reads its own hours; flags are ``true`` or ``false``, and a missing value an empty cell.
Free text (an address, a description, a name from grid's catalog) that Excel would run as a
formula goes out as text (:func:`shared.spreadsheet.text`).
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from services.dispatch.cases.schemas import CaseRead
from shared import spreadsheet

COLUMNS = (
    "case_number",
    "id",
    "status",
    "category_code",
    "category_name",
    "urgency",
    "department_code",
    "department_name",
    "grid_cell",
    "community",
    "address",
    "description",
    "reported_at",
    "created_at",
    "dispatched_at",
    "deadline_at",
    "resolved_at",
    "closed_at",
    "overdue",
    "due_soon",
    "report_count",
    "rework_count",
    "urge_count",
    "extension_requested_hours",
    "rating",
    "feedback_comment",
    "lat",
    "lon",
    "duplicate_of",
)
TIMES = frozenset({"reported_at", "created_at", "dispatched_at", "deadline_at", "resolved_at", "closed_at"})
FLAGS = frozenset({"overdue", "due_soon"})
NUMBERS = frozenset(
    {
        "id",
        "report_count",
        "rework_count",
        "urge_count",
        "extension_requested_hours",
        "rating",
        "lat",
        "lon",
        "duplicate_of",
    }
)
CODES = frozenset({"category_code", "department_code", "grid_cell", "community"})
"""The rest is text."""


def cases_csv(cases: list[CaseRead], zone: ZoneInfo) -> str:
    """A header of :data:`COLUMNS`, then a row a case."""

    def cell(name: str) -> Callable[[CaseRead], str]:
        if name in TIMES:
            return lambda case: spreadsheet.time(getattr(case, name), zone)
        if name in FLAGS:
            return lambda case: "true" if getattr(case, name) else "false"
        if name in NUMBERS:
            return lambda case: spreadsheet.number(getattr(case, name))
        if name in CODES:
            return lambda case: spreadsheet.code(getattr(case, name))
        return lambda case: spreadsheet.text(getattr(case, name))

    cells = [cell(name) for name in COLUMNS]
    return spreadsheet.table(COLUMNS, ([value(case) for value in cells] for case in cases))
