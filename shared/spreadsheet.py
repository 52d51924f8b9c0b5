"""CSV files the office opens in Excel as they are, Chinese text and all (``format=csv``):
dispatch's figures and case list, grid's daily logs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.responses import Response

MEDIA_TYPE = "text/csv; charset=utf-8"
OPENAPI = {"content": {"text/csv": {"schema": {"type": "string"}}}}
"""A route's 200 as OpenAPI has it when it answers CSV too (``responses={200: OPENAPI}``)."""
BOM = "\ufeff"
"""Excel reads a CSV file as the system's code page (GBK on a Chinese Windows) unless it begins
with the UTF-8 byte-order mark: without it, 环卫站 opens as mojibake."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes Excel (and LibreOffice) read a cell as a formula: a department's name is free text
in grid, a case's address and description are what a reporter typed, and ``=HYPERLINK(…)``
there ran when the office opened the file (CSV injection)."""


def text(value: str | None) -> str:
    """A text cell as text: one Excel would take for a formula goes out behind an apostrophe,
    so that it is read as the text it is (OWASP's advice against CSV injection). None is an
    empty cell."""
    if value is None:
        return ""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def code(value: str | None) -> str:
    """A code cell (a category's ``0501``, a grid cell's ``35020300100101``) as the text it is.
    Excel reads a cell of digits as a number: ``0501`` lost its zero, and a cell's 14 digits
    showed as ``3.50203E+13``. A code of digits goes out as ``="0501"``, which Excel and WPS
    show as the text ``0501``; any other code as :func:`text`."""
    if value is None:
        return ""
    if value.isascii() and value.isdigit():
        return f'="{value}"'
    return text(value)


def number(value: float | None) -> str:
    """A number cell as the JSON answer writes the number (a rate's four places stay four, a
    mean rating of 4.67 is no 4.6700); None is an empty cell."""
    return "" if value is None else str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The file: the byte-order mark, the header, the rows, each line ended as Excel ends it.
    Text cells go through :func:`text` first; the caller formats numbers and times."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def time(value: datetime | None, zone: ZoneInfo) -> str:
    """A time cell in the office's time zone, RFC 3339 with its offset, to the second
    (``2026-12-05T08:30:00+08:00``): the office reads its own hours. None is an empty cell."""
    return "" if value is None else value.astimezone(zone).isoformat(timespec="seconds")


def taken(stem: str, now: datetime, zone: ZoneInfo) -> str:
    """A file named for when it was taken, office time: ``taken("cases", …)`` is
    ``cases-2026-12-05-0830.csv``."""
    return f"{stem}-{now.astimezone(zone):%Y-%m-%d-%H%M}.csv"


def attachment(content: str, filename: str) -> Response:
    """The answer that has a browser save ``content`` as ``filename``."""
    return Response(
        content,
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
