"""Reading the CSV files the office opens in Excel as Excel shows them."""

from __future__ import annotations

import csv
import io
import re

CODE = re.compile(r'="(\d+)"')
"""A code of digits as ``shared.spreadsheet.code`` writes it, which Excel shows as its text."""


def shown(cell: str) -> str:
    """The cell as Excel shows it: ``="0501"`` is ``0501``; any other as it is written."""
    code = CODE.fullmatch(cell)
    return code.group(1) if code else cell


def rows_shown(content: bytes) -> list[dict[str, str]]:
    """The file's rows, each a header → cell as Excel shows it."""
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8, not GBK
    reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline=""))
    return [{name: shown(cell) for name, cell in row.items()} for row in reader]
