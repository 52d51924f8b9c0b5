"""The figures as a spreadsheet: CSV that Excel opens as it is, Chinese names and all."""

from __future__ import annotations

from datetime import timedelta

from services.dispatch.figures.schemas import DepartmentFigures, Figures, FiguresRead
from shared import spreadsheet

COUNTS = tuple(Figures.model_fields)
"""The columns after the department's: every count and rate, in the answer's order."""
NO_DEPARTMENT = "未派单"
"""The name of the row of cases no department had (triage, rejected), as the office says it."""
TOTAL = "合计"


def figures_csv(figures: FiguresRead) -> str:
    """One row a department, then the total's (its department column `total`)."""
    rows = [
        [spreadsheet.text(row.department_code), spreadsheet.text(_name(row)), *_values(row)]
        for row in figures.departments
    ]
    rows.append(["total", TOTAL, *_values(figures.total)])
    return spreadsheet.table(["department_code", "department_name", *COUNTS], rows)


def _name(row: DepartmentFigures) -> str:
    return row.department_name or ("" if row.department_code else NO_DEPARTMENT)


def _values(row: Figures | DepartmentFigures) -> list[str]:
    return [spreadsheet.number(getattr(row, name)) for name in COUNTS]


def filename(figures: FiguresRead) -> str:
    """Named for the period's first and last days (``until`` is the day after the last): the
    figures of 1–6 December are ``figures-2026-12-01-2026-12-06.csv``."""
    last = figures.until - timedelta(days=1)
    return f"figures-{figures.since.isoformat()}-{last.isoformat()}.csv"
