"""The console's case filters as query parameters: one declaration for the list (and its CSV
file) and the map, so that the two take the same filters, described the same way."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from services.dispatch.cases.lifecycle import Status
from services.dispatch.cases.repository import CaseFilters
from shared.schemas import DEPARTMENT_CODE, SEARCH_TEXT, STORABLE_QUERY

Text = Annotated[str | None, Query(max_length=200), STORABLE_QUERY]


def case_filters(
    status: Annotated[list[Status] | None, Query(max_length=20, description="repeat for several")] = None,
    department: Annotated[
        str | None,
        Query(max_length=32, pattern=DEPARTMENT_CODE, description="a department's code: sanitation"),
        STORABLE_QUERY,
    ] = None,
    grid_cell: Text = None,
    community: Text = None,
    category: Text = None,
    overdue: Annotated[
        bool | None, Query(description="deadline passed while dispatched or in progress (not once resolved)")
    ] = None,
    due_soon: Annotated[
        bool | None,
        Query(
            description="预警: 80 % of the time limit gone, the deadline not yet, "
            "while dispatched or in progress"
        ),
    ] = None,
    urged: Annotated[
        bool | None,
        Query(description="urged at least once, by the office or by dispatch once overdue (督办件)"),
    ] = None,
    extension_requested: Annotated[
        bool | None, Query(description="handled, with a request for more time awaiting the office's answer")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="text in description, address or number"),
        STORABLE_QUERY,
        SEARCH_TEXT,
    ] = None,
    reporter: Text = None,
) -> CaseFilters:
    return CaseFilters(
        statuses=[s.value for s in status or []],
        department=department,
        grid_cell=grid_cell,
        community=community,
        category=category,
        overdue=overdue,
        due_soon=due_soon,
        urged=urged,
        extension_requested=extension_requested,
        q=q,
        reporter=reporter,
    )


Filters = Annotated[CaseFilters, Depends(case_filters)]
"""The filters of a route that reads the console's cases."""
