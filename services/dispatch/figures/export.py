"""The figures as a spreadsheet: CSV that Excel opens as it is, Chinese names and all."""

from __future__ import annotations

from datetime import timedelta

from services.dispatch.figures.schemas import DepartmentFigures, Figures, FiguresRead, GroupedFiguresRead
from shared import spreadsheet

COUNTS = tuple(Figures.model_fields)
"""The columns after the department's: every count and rate, in the answer's order."""
NO_DEPARTMENT = "未派单"
"""The name of the row of cases no department had (triage, rejected), as the office says it."""
NONE_OF = {"category": "未分类", "community": "无社区", "grid_cell": "无网格"}
"""The name of the row of cases with no category, no community, no grid cell."""
TOTAL = "合计"


def figures_csv(figures: FiguresRead | GroupedFiguresRead) -> str:
    """One row a department (or a group), then the total's (its first column `total`)."""
    if isinstance(figures, GroupedFiguresRead):
        return _groups_csv(figures)
    rows = [
        [spreadsheet.code(row.department_code), spreadsheet.text(_name(row)), *_values(row)]
        for row in figures.departments
    ]
    rows.append(["total", TOTAL, *_values(figures.total)])
    return spreadsheet.table(["department_code", "department_name", *COUNTS], rows)


def _groups_csv(figures: GroupedFiguresRead) -> str:
    none = NONE_OF[figures.by]
    rows = [
        [spreadsheet.code(row.key), spreadsheet.text(row.name or ("" if row.key else none)), *_values(row)]
        for row in figures.groups
    ]
    rows.append(["total", TOTAL, *_values(figures.total)])
    return spreadsheet.table(["key", "name", *COUNTS], rows)


def _name(row: DepartmentFigures) -> str:
    return row.department_name or ("" if row.department_code else NO_DEPARTMENT)


def _values(row: Figures) -> list[str]:
    return [spreadsheet.number(getattr(row, name)) for name in COUNTS]


def filename(figures: FiguresRead | GroupedFiguresRead) -> str:
    """Named for the period's first and last days (``until`` is the day after the last): the
    figures of 1–6 December are ``figures-2026-12-01-2026-12-06.csv``, by category
    ``figures-by-category-2026-12-01-2026-12-06.csv``."""
    last = figures.until - timedelta(days=1)
    by = f"by-{figures.by.replace('_', '-')}-" if isinstance(figures, GroupedFiguresRead) else ""
    return f"figures-{by}{figures.since.isoformat()}-{last.isoformat()}.csv"
