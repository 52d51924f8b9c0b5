"""The figures as a spreadsheet: CSV that Excel opens as it is, Chinese names and all."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from services.dispatch.figures.schemas import DepartmentFigures, Figures, FiguresRead

COUNTS = tuple(Figures.model_fields)
"""The columns after the department's: every count and rate, in the answer's order."""
BOM = "\ufeff"
"""Excel reads a CSV file as the system's code page (GBK on a Chinese Windows) unless it begins
with the UTF-8 byte-order mark: without it, 环卫站 opens as mojibake."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes Excel (and LibreOffice) read a cell as a formula: a department's name is free text
in grid, and ``=HYPERLINK(…)`` there ran when the office opened the file (CSV injection)."""


NO_DEPARTMENT = "未派单"
"""The name of the row of cases no department had (triage, rejected), as the office says it."""
TOTAL = "合计"


def figures_csv(figures: FiguresRead) -> str:
    """One row a department, then the total's (its department column `total`)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["department_code", "department_name", *COUNTS])
    for row in figures.departments:
        name = row.department_name or ("" if row.department_code else NO_DEPARTMENT)
        writer.writerow([_text(row.department_code or ""), _text(name), *_values(row)])
    writer.writerow(["total", TOTAL, *_values(figures.total)])
    return out.getvalue()


def _text(value: str) -> str:
    """A text cell as text: one Excel would take for a formula goes out behind an apostrophe,
    so that it is read as the text it is (OWASP's advice against CSV injection)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _values(row: Figures | DepartmentFigures) -> list[str]:
    values = []
    for name in COUNTS:
        value = getattr(row, name)
        values.append("" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value))
    return values


def filename(figures: FiguresRead) -> str:
    """Named for the period's first and last days (``until`` is the day after the last): the
    figures of 1–6 December are ``figures-2026-12-01-2026-12-06.csv``."""
    last = figures.until - timedelta(days=1)
    return f"figures-{figures.since.isoformat()}-{last.isoformat()}.csv"
