"""Which codes a region holds, for scope checks: a person assigned a region sees what lies in it.

Unit-grid codes are hierarchical by length (grid's ``services/grid/regions/codes.py``): a
6-digit district, 9-digit subdistrict, 12-digit community, and a cell of 14 or 15 digits (the
community's code and 2 or 3 more). A district, subdistrict or community holds every code that
begins with its own. A cell holds only itself: a 14-digit cell's code begins the codes of the
15-digit cells of its community, which are other cells.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, SQLColumnExpression

SHORTEST_CELL = 14
"""Digits of the shortest cell code; shorter codes are areas that hold what begins with them."""


def holds(region: str, code: str | None) -> bool:
    """Whether ``region`` holds ``code`` (an empty region holds nothing)."""
    if not region or code is None:
        return False
    return code == region or (len(region) < SHORTEST_CELL and code.startswith(region))


def held_by(column: SQLColumnExpression[str | None], region: str) -> ColumnElement[bool]:
    """:func:`holds` as a SQL condition on a column of codes (``region`` not empty)."""
    if len(region) >= SHORTEST_CELL:
        return column == region
    return column.startswith(region, autoescape=True)
