"""The daily logs as a ledger (台账, ``format=csv``): a row an entry, in the list's order; and
their monthly figures (网格员考核, ``/figures?format=csv``): a row a person, then the total.

The office keeps its patrol ledger in Excel, a month at a time: the columns are the entries'
fields, named as in the JSON, with the cell's and the author's names beside their codes (a
ledger is read by people), the concerns in one cell joined by ``；``, the report ids by spaces.
Times are in the office's time zone to the second, as in dispatch's exports. Free text that
Excel would run as a formula goes out as text (:func:`shared.spreadsheet.text`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from services.grid.logbook.schemas import LogFigures, LogFiguresRead
from services.grid.models import PatrolLog
from shared import spreadsheet

COLUMNS = (
    "id",
    "day",
    "grid_cell",
    "grid_cell_name",
    "author",
    "author_name",
    "patrol",
    "concerns",
    "households_visited",
    "report_ids",
    "created_at",
    "updated_at",
)
MAX_EXPORT_ROWS = 10_000
"""The most entries one file holds: a subdistrict's month is a few thousand; more is a 422
asking for a shorter period, never a file cut short."""
CONCERNS_JOINED_BY = "；"


def logs_csv(
    entries: Sequence[PatrolLog], *, cells: Mapping[str, str], people: Mapping[str, str], zone: ZoneInfo
) -> str:
    """A header of :data:`COLUMNS`, then a row an entry; ``cells`` and ``people`` name the codes
    and usernames (one grid no longer has is an empty cell)."""
    return spreadsheet.table(
        COLUMNS,
        (
            [
                str(entry.id),
                entry.day.isoformat(),
                spreadsheet.code(entry.grid_cell),
                spreadsheet.text(cells.get(entry.grid_cell)),
                entry.author,
                spreadsheet.text(people.get(entry.author)),
                spreadsheet.text(entry.patrol),
                spreadsheet.text(CONCERNS_JOINED_BY.join(entry.concerns)),
                spreadsheet.number(entry.households_visited),
                " ".join(entry.report_ids),
                spreadsheet.time(entry.created_at, zone),
                spreadsheet.time(entry.updated_at, zone),
            ]
            for entry in entries
        ),
    )


FIGURES_COLUMNS = (
    "username",
    "name",
    "role",
    "grid_cells",
    "days_logged",
    "entries",
    "households_visited",
    "concerns",
    "last_day",
)
TOTAL = "合计"


def figures_csv(figures: LogFiguresRead) -> str:
    """A row a person, as the JSON names them, their cells joined by spaces; then the total's
    (username ``total``, name 合计). A few hundred rows at most: written on the event loop."""
    rows = [
        [
            spreadsheet.text(person.username),
            spreadsheet.text(person.name),
            person.role.value,
            " ".join(person.grid_cells),
            *_sums(person),
        ]
        for person in figures.people
    ]
    rows.append(["total", TOTAL, "", "", *_sums(figures.total)])
    return spreadsheet.table(FIGURES_COLUMNS, rows)


def _sums(figures: LogFigures) -> list[str]:
    return [
        spreadsheet.number(figures.days_logged),
        spreadsheet.number(figures.entries),
        spreadsheet.number(figures.households_visited),
        spreadsheet.number(figures.concerns),
        figures.last_day.isoformat() if figures.last_day else "",
    ]
